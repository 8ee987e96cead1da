package engine

import "github.com/inferprobe/inferprobe/testbed/truth"

// stepLine is the ground truth of one step, appended to --truth as one JSON line: the
// testbed's one definition of it, in testbed/truth.
type stepLine = truth.Step

// workerTiming is one worker's share of a step.
type workerTiming = truth.Worker
