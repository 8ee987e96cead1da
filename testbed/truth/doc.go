// Package truth holds the testbed's ground truth: the JSON line types the testbed writes
// with --truth (one "request" line per finished HTTP request, written by the front end,
// and one "step" line per engine step, written by the engine core, appended to the same
// file), a writer that appends each line with a single write(2) on an O_APPEND file, a
// reader for accuracy tests, and the CLOCK_MONOTONIC clock every timestamp is taken on.
package truth
