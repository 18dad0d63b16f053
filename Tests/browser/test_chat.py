"""The chat room itself, through the page's UI: people chatting, nicknames, presence, typing, history, rooms."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect


@pytest.mark.chat_loops(1)  # one page, or nothing a second loop changes
def test_page_skeleton_default_nickname_and_accessibility(open_chat):
    tab = open_chat()
    page = tab.page
    # The tutorial's skeleton.
    expect(page.locator("ul#messages")).to_have_count(1)
    expect(page.locator("form#form input#input")).to_have_attribute("autocomplete", "off")
    expect(page.locator("form#form button")).to_have_count(1)
    assert tab.js("typeof io === 'function' && window.socket instanceof io.Socket")
    assert tab.connected
    # A default nickname from the server, shown at once; one person online.
    nickname = tab.nickname
    assert nickname.strip(), "the server's welcome carried no default nickname"
    expect(page.locator("#nickname")).to_have_value(nickname)
    expect(page.locator("#online")).to_have_text("1 online")
    expect(tab.notice(re.escape(f"Welcome, {nickname}!"))).to_have_count(1)
    # The default room is the Lobby (namespace /).
    assert tab.js("window.socket.nsp") == "/"
    expect(page.locator('.rooms a[aria-current="page"]')).to_have_attribute("data-ns", "/")
    # Accessibility basics: language, labelled inputs, named buttons, a live log for messages.
    assert page.get_attribute("html", "lang") == "en"
    unlabelled = tab.js("Array.from(document.querySelectorAll('input')).filter(i => !i.labels.length).map(i => i.id)")
    assert unlabelled == []
    unnamed = tab.js("Array.from(document.querySelectorAll('button')).filter(b => !b.textContent.trim()).length")
    assert unnamed == 0
    expect(page.locator("#messages")).to_have_attribute("role", "log")
    # The message box has the focus, ready to type.
    assert tab.js("document.activeElement.id") == "input"


def assert_on_every_loop(server, *tabs):
    """With a multi-loop server, the tabs are served by different loops (open_chat placed them in turn)."""
    if server.loops > 1:
        assert {tab.loop(server.loops) for tab in tabs} == set(range(server.loops)), [t.engine_id() for t in tabs]


def test_two_pages_chat(open_chat, artifacts_dir, chat_server):
    alice = open_chat(name="alice")
    bob = open_chat(name="bob")
    assert_on_every_loop(chat_server, alice, bob)
    alice.set_nickname("alice")
    bob.set_nickname("bob")
    expect(alice.notice(r"^You are now known as alice\.$")).to_have_count(1)

    alice.send("Hi Bob! How can I help?")
    bob.expect_message("Hi Bob! How can I help?", "alice")
    alice.expect_message("Hi Bob! How can I help?", "alice")
    bob.send("My build fails on a fresh machine.")
    alice.expect_message("My build fails on a fresh machine.", "bob")
    alice.send("Run scripts/bootstrap.sh first, then swift build.")
    bob.expect_message("Run scripts/bootstrap.sh first, then swift build.", "alice")

    # Own messages are marked as such on each side.
    assert [m for m in alice.messages() if m["mine"]] == [
        {"nickname": "alice", "text": "Hi Bob! How can I help?", "mine": True},
        {"nickname": "alice", "text": "Run scripts/bootstrap.sh first, then swift build.", "mine": True},
    ]
    assert [m["text"] for m in bob.messages() if m["mine"]] == ["My build fails on a fresh machine."]
    for tab in (alice, bob):
        expect(tab.page.locator("#online")).to_have_text("2 online")

    # Bob starts typing: Alice sees it in the screenshot (taken in the one-loop run).
    bob.page.type("#input", "Thanks, trying", delay=10)
    expect(alice.page.locator("#typing")).to_have_text("bob is typing…")
    if chat_server.loops > 1:
        return
    alice.page.screenshot(path=str(artifacts_dir / "chat.png"))
    bob.page.set_viewport_size({"width": 390, "height": 760})
    bob.page.screenshot(path=str(artifacts_dir / "chat-mobile.png"))


@pytest.mark.chat_loops(1)  # one page, or nothing a second loop changes
def test_nickname_change_announced_and_invalid_refused(open_chat):
    a = open_chat(name="a")
    b = open_chat(name="b")
    old = a.nickname
    a.set_nickname("carol")
    expect(b.notice(re.escape(f"{old} is now known as carol."))).to_have_count(1)
    a.send("carol here")
    b.expect_message("carol here", "carol")

    # The server refuses an empty nickname with {ok: false, error}.
    ack = a.js("window.socket.timeout(5000).emitWithAck('set nickname', '')")
    assert ack["ok"] is False and isinstance(ack.get("error"), str) and ack["error"], ack
    assert a.nickname == "carol"
    # The page refuses an empty one itself, and says so.
    a.page.fill("#nickname", "   ")
    a.page.click("#nick-save")
    expect(a.page.locator("#nick-status")).to_have_text(re.compile("cannot be empty"))
    assert a.nickname == "carol"


def test_join_leave_notices_and_online_count(open_chat, chat_server):
    """The online count is the whole process's, whichever loop serves each page."""
    a = open_chat(name="a")
    expect(a.page.locator("#online")).to_have_text("1 online")
    b = open_chat(name="b")
    assert_on_every_loop(chat_server, a, b)
    b_nick = b.nickname
    expect(a.notice(re.escape(f"{b_nick} joined."))).to_have_count(1)
    expect(a.page.locator("#online")).to_have_text("2 online")
    expect(b.page.locator("#online")).to_have_text("2 online")
    b.page.context.close()
    expect(a.notice(re.escape(f"{b_nick} left."))).to_have_count(1)
    expect(a.page.locator("#online")).to_have_text("1 online")


@pytest.mark.chat_loops(1)  # one page, or nothing a second loop changes
def test_typing_indicator(open_chat, chat_server):
    a = open_chat(name="a")
    b = open_chat(name="b")
    assert_on_every_loop(chat_server, a, b)
    a.set_nickname("ann")
    a.page.type("#input", "hello th", delay=20)
    expect(b.page.locator("#typing")).to_have_text("ann is typing…")
    expect(a.page.locator("#typing")).to_have_text("")  # not shown to the typist
    # Sending ends it at once.
    a.page.type("#input", "ere")
    a.page.click("#form button")
    b.expect_message("hello there", "ann")
    expect(b.page.locator("#typing")).to_have_text("")
    # Typing and then pausing ends it too (the page sends typing=false after 2.5 s idle).
    a.page.type("#input", "one more", delay=20)
    expect(b.page.locator("#typing")).to_have_text("ann is typing…")
    expect(b.page.locator("#typing")).to_have_text("", timeout=5000)


def test_history_for_newcomers(open_chat, chat_server):
    """The history is the process's: a newcomer on another loop than the writer gets it too."""
    a = open_chat(name="a")
    a.set_nickname("early-bird")
    for text in ("first message", "second message", "third message"):
        a.send(text)
        a.expect_message(text)
    newcomer = open_chat(name="newcomer")
    assert_on_every_loop(chat_server, a, newcomer)
    for text in ("first message", "second message", "third message"):
        newcomer.expect_message(text, "early-bird")
    assert [m["text"] for m in newcomer.messages()] == ["first message", "second message", "third message"]
    expect(newcomer.notice("^Recent messages$")).to_have_count(1)
    # History is for newcomers only: the sender did not get duplicates.
    assert [m["text"] for m in a.messages()] == ["first message", "second message", "third message"]


def test_chat_namespace_is_a_separate_room(open_chat, chat_server):
    a = open_chat("?ns=/chat", name="chat-a")
    b = open_chat("?ns=/chat", name="chat-b")
    lobby = open_chat(name="lobby")
    assert_on_every_loop(chat_server, a, b)
    assert a.js("window.socket.nsp") == "/chat"
    expect(a.page.locator('.rooms a[aria-current="page"]')).to_have_attribute("data-ns", "/chat")
    expect(a.page.locator("#online")).to_have_text("2 online")
    expect(lobby.page.locator("#online")).to_have_text("1 online")

    a.send("asked in /chat")
    b.expect_message("asked in /chat")
    lobby.send("said in the lobby")
    lobby.expect_message("said in the lobby")
    b.send("answered in /chat")
    a.expect_message("answered in /chat")
    time.sleep(0.3)  # anything misrouted would have arrived by now
    assert [m["text"] for m in lobby.messages()] == ["said in the lobby"]
    assert [m["text"] for m in a.messages()] == ["asked in /chat", "answered in /chat"]

    # Each room keeps its own history.
    late = open_chat("?ns=/chat", name="chat-late")
    late.expect_message("answered in /chat")
    assert [m["text"] for m in late.messages()] == ["asked in /chat", "answered in /chat"]
    late_lobby = open_chat(name="lobby-late")
    late_lobby.expect_message("said in the lobby")
    assert [m["text"] for m in late_lobby.messages()] == ["said in the lobby"]

    # The room switch links keep the other URL parameters and lead to the other room.
    a.page.click('.rooms a[data-ns="/"]')
    a.wait_ready()
    assert a.js("window.socket.nsp") == "/"
    a.expect_message("said in the lobby")


def test_client_bundle_paths_are_exact(chat_server):
    """The bundle is served at its own paths only: a source map that does not exist is 404, not the bundle
    (the paths once matched by prefix)."""
    import urllib.error
    import urllib.request

    base = chat_server.url
    for path in ("/socket.io/socket.io.js", "/socket.io/socket.io.min.js", "/socket.io/socket.io.js?v=4.8.1"):
        with urllib.request.urlopen(base + path, timeout=5) as response:
            assert response.status == 200 and "javascript" in response.headers["Content-Type"]
    for path in ("/socket.io/socket.io.min.js.map", "/socket.io/socket.io.js.map"):
        try:
            urllib.request.urlopen(base + path, timeout=5)
            raise AssertionError(f"{path} answered")
        except urllib.error.HTTPError as error:
            assert error.code == 404, (path, error.code)
