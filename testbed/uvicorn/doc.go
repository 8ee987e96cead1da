// Package uvicorn carries the testbed's second API server, app.py: the same OpenAI API
// as testbed/frontend, written as a FastAPI app under real uvicorn with uvloop, the stack
// vLLM serves with, so inferprobe meets Python's real socket behaviour. The app spawns
// the Go engine core as its child (`testbed engine-core --connect SOCKET`, as vLLM's API
// server spawns EngineCore) and writes the same ground-truth request lines.
//
// The binary embeds app.py; Exec writes it to a cache file named by its hash and
// replaces the calling process with Debian's /usr/bin/python3 running it (so the API
// server keeps the launcher's pid). It needs python3-fastapi, python3-uvicorn and
// python3-uvloop.
package uvicorn
