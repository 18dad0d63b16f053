"""Test certificates made with the openssl CLI: a root CA, an intermediate CA, and server certificates signed by the
intermediate (so a client that trusts only the root verifies the chain only if the server sends the intermediate).

`make_pki(directory)` returns a `PKI` with paths (all PEM):

- `ca`: the root certificate clients trust;
- `server`: chain (leaf for localhost + 127.0.0.1 + ::1, then the intermediate) and key;
- `renewed`: another chain and key for the same names (a renewal, for reload tests: a different serial);
- `encrypted`: the `server` certificate with its key encrypted under PASSWORD;
- `expired`: a chain whose leaf expired in 2020;
- `other_host`: a chain for `other.example` only (a wrong host name for `localhost`);
- `sni`: a chain for `sni.test` and `*.wild.test`;
- `untrusted`: a self-signed certificate for localhost (no CA the client knows).

Shared by Tests/tls, Tests/c, Tests/browser and bindings/python/tests (they put this directory on sys.path).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import pathlib
import subprocess
import textwrap

PASSWORD = "s3cret pass"


@dataclasses.dataclass
class Pair:
    chain: pathlib.Path
    key: pathlib.Path
    leaf: pathlib.Path

    def leaf_der(self) -> bytes:
        """The leaf certificate in DER (what `SSLSocket.getpeercert(binary_form=True)` returns)."""
        text = self.leaf.read_text()
        body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
        return base64.b64decode("".join(body.split()))

    def spki_sha256_base64(self) -> str:
        """base64(sha256(SubjectPublicKeyInfo)) of the leaf: Chromium's --ignore-certificate-errors-spki-list."""
        der = subprocess.run(["openssl", "x509", "-in", str(self.leaf), "-pubkey", "-noout"], check=True,
                             capture_output=True).stdout
        spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=der, check=True,
                              capture_output=True).stdout
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@dataclasses.dataclass
class PKI:
    directory: pathlib.Path
    ca: pathlib.Path
    server: Pair
    renewed: Pair
    encrypted: Pair
    expired: Pair
    other_host: Pair
    sni: Pair
    untrusted: Pair


def _openssl(*args: str, cwd: pathlib.Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


def _ec_key(path: pathlib.Path, cwd: pathlib.Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path), cwd=cwd)


CA_CONFIG = textwrap.dedent("""\
    [ca]
    default_ca = intermediate
    [intermediate]
    dir = .
    database = index.txt
    new_certs_dir = issued
    serial = serial
    default_md = sha256
    policy = anything
    copy_extensions = copy
    unique_subject = no
    [anything]
    commonName = supplied
    [leaf]
    basicConstraints = critical, CA:FALSE
    keyUsage = critical, digitalSignature, keyEncipherment
    extendedKeyUsage = serverAuth
    subjectKeyIdentifier = hash
    authorityKeyIdentifier = keyid
    [intermediate_ca]
    basicConstraints = critical, CA:TRUE, pathlen:0
    keyUsage = critical, keyCertSign, cRLSign
    subjectKeyIdentifier = hash
    authorityKeyIdentifier = keyid
    """)


def make_pki(directory: pathlib.Path) -> PKI:
    d = pathlib.Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / "issued").mkdir(exist_ok=True)
    (d / "index.txt").write_text("")
    (d / "serial").write_text("1000\n")
    (d / "ca.cnf").write_text(CA_CONFIG)

    # Root (self-signed) and intermediate (signed by the root).
    _ec_key(d / "root.key", d)
    _openssl("req", "-x509", "-new", "-key", "root.key", "-out", "root.pem", "-days", "30", "-subj", "/CN=sio test root",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _ec_key(d / "inter.key", d)
    _openssl("req", "-new", "-key", "inter.key", "-out", "inter.csr", "-subj", "/CN=sio test intermediate", cwd=d)
    _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "root.pem", "-keyfile", "root.key", "-extensions",
             "intermediate_ca", "-days", "30", "-in", "inter.csr", "-out", "inter.pem", "-notext", cwd=d)

    def leaf(name: str, cn: str, sans: str, *, start: str | None = None, end: str | None = None) -> Pair:
        key = d / f"{name}.key"
        _ec_key(key, d)
        _openssl("req", "-new", "-key", key.name, "-out", f"{name}.csr", "-subj", f"/CN={cn}",
                 "-addext", f"subjectAltName={sans}", cwd=d)
        dates = ["-startdate", start, "-enddate", end] if start else ["-days", "30"]
        _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "inter.pem", "-keyfile", "inter.key", "-extensions",
                 "leaf", *dates, "-in", f"{name}.csr", "-out", f"{name}.leaf.pem", "-notext", cwd=d)
        chain = d / f"{name}.chain.pem"
        chain.write_text((d / f"{name}.leaf.pem").read_text() + (d / "inter.pem").read_text())
        return Pair(chain=chain, key=key, leaf=d / f"{name}.leaf.pem")

    local = "DNS:localhost,IP:127.0.0.1,IP:::1"
    server = leaf("server", "localhost", local)
    renewed = leaf("renewed", "localhost", local)
    encrypted_key = d / "server.encrypted.key"
    _openssl("pkey", "-in", "server.key", "-out", encrypted_key.name, "-aes256", "-passout", f"pass:{PASSWORD}", cwd=d)
    encrypted = Pair(chain=server.chain, key=encrypted_key, leaf=server.leaf)
    expired = leaf("expired", "localhost", local, start="20200101000000Z", end="20200201000000Z")
    other_host = leaf("other", "other.example", "DNS:other.example")
    sni = leaf("sni", "sni.test", "DNS:sni.test,DNS:*.wild.test")

    _ec_key(d / "untrusted.key", d)
    _openssl("req", "-x509", "-new", "-key", "untrusted.key", "-out", "untrusted.pem", "-days", "30",
             "-subj", "/CN=localhost", "-addext", f"subjectAltName={local}", cwd=d)
    untrusted = Pair(chain=d / "untrusted.pem", key=d / "untrusted.key", leaf=d / "untrusted.pem")

    return PKI(directory=d, ca=d / "root.pem", server=server, renewed=renewed, encrypted=encrypted, expired=expired,
               other_host=other_host, sni=sni, untrusted=untrusted)
