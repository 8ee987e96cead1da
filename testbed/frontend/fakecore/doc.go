// Package fakecore is a stand-in engine core for testing the testbed's front ends
// without the real engine (or a GPU): it speaks testbed/proto in-process (New) or as the
// engine-core process over a unix socket (Main), stepping every running request by one
// token per tick, with knobs for rejection and failure.
package fakecore
