// `import SocketIO` is all a Swift program needs: the loop, the Engine.IO options and JSON values come with it.
@_exported import EngineIO
@_exported import SIOHTTP
@_exported import SIOLoop
@_exported import SocketIOCodec
