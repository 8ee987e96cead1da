package correlate

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// Exit is a process of a serving unit that exited while it was watched.
type Exit struct {
	Unit string
	PID  uint32
	Comm string
	TS   uint64 // CLOCK_MONOTONIC ns
	// Status is the wait(2) status (event.Proc's Code).
	Status int32
}

// How says how the process ended: "exited with status N", "killed by SIGKILL", and
// "(core dumped)" when it did.
func (e Exit) How() string {
	ws := syscall.WaitStatus(e.Status)
	switch {
	case ws.Signaled():
		s := "killed by " + signalName(ws.Signal())
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	default:
		return fmt.Sprintf("exited with status %d", ws.ExitStatus())
	}
}

func signalName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

// maxExits bounds the exits kept (the latest are kept).
const maxExits = 256

// noteExit keeps the exit of a process the unit table knew (before it forgets it).
func (c *Correlator) noteExit(e *event.Proc) {
	p := c.units.procs[e.PID]
	if p == nil {
		return
	}
	x := Exit{Unit: c.units.Unit(e.PID), PID: e.PID, Comm: p.comm, TS: e.TS, Status: e.Code}
	if len(c.exits) == maxExits {
		copy(c.exits, c.exits[1:])
		c.exits = c.exits[:maxExits-1]
	}
	c.exits = append(c.exits, x)
}

// Exits returns the exits of the units' processes seen so far (the latest maxExits).
func (c *Correlator) Exits() []Exit { return c.exits }
