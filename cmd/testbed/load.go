package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/inferprobe/inferprobe/testbed/load"
)

func runLoad(args []string) error {
	fs := pflag.NewFlagSet("load", pflag.ContinueOnError)
	var c load.Config
	var prompt, maxTok, abortAfter, out string
	var bursts []string
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8000", "the server's base URL (the only host requests go to)")
	fs.StringVar(&c.Model, "model", "testbed", "model name sent with every request")
	fs.Float64Var(&c.Rate, "rate", 10, "requests per second of the schedule")
	fs.StringVar(&c.Arrivals, "arrivals", "poisson", "arrival process: fixed or poisson")
	fs.IntVar(&c.Concurrency, "concurrency", 256, "most requests open at once (bursts are not capped)")
	fs.IntVar(&c.Requests, "requests", 0, "scheduled requests (0: until --duration)")
	fs.DurationVar(&c.Duration, "duration", 0, "schedule length (0: until --requests)")
	fs.StringVar(&prompt, "prompt-tokens", "16:512", "prompt length: N, LO:HI (uniform) or A,B,C (one of)")
	fs.StringVar(&maxTok, "max-tokens", "16:128", "max_tokens: N, LO:HI or A,B,C")
	fs.StringVar(&c.PromptMode, "prompt-mode", "text", "text: a prompt of that many words; count: the testbed's prompt_tokens field")
	fs.Float64Var(&c.StreamFrac, "stream-frac", 1, "fraction of requests streamed")
	fs.Float64Var(&c.ChatFrac, "chat-frac", 0, "fraction sent to /v1/chat/completions")
	fs.BoolVar(&c.IncludeUsage, "include-usage", true, "ask streamed responses for usage (stream_options.include_usage)")
	fs.Float64Var(&c.OverlongFrac, "overlong-frac", 0, "fraction of prompts that fill --max-model-len (400)")
	fs.IntVar(&c.MaxModelLen, "max-model-len", 4096, "the server's context length, for over-long prompts")
	fs.Float64Var(&c.AbortFrac, "abort-frac", 0, "fraction of streamed requests the client closes mid-stream")
	fs.StringVar(&abortAfter, "abort-after", "1:8", "content events read before such a close (0: before the first)")
	fs.StringArrayVar(&bursts, "burst", nil, "N@T: N extra requests at once T after the start (repeatable)")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of every random draw")
	fs.StringVar(&c.IDPrefix, "id-prefix", "", "X-Request-Id prefix (default: load-<pid>-<time>)")
	fs.DurationVar(&c.Timeout, "timeout", 60*time.Second, "most time one request may take")
	fs.StringVar(&out, "out", "-", "file for one JSON line per request (-: stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if c.PromptTokens, err = load.ParseDist(prompt, 1); err != nil {
		return fmt.Errorf("--prompt-tokens: %w", err)
	}
	if c.MaxTokens, err = load.ParseDist(maxTok, 1); err != nil {
		return fmt.Errorf("--max-tokens: %w", err)
	}
	if c.AbortAfter, err = load.ParseDist(abortAfter, 0); err != nil {
		return fmt.Errorf("--abort-after: %w", err)
	}
	for _, b := range bursts {
		bb, err := load.ParseBurst(b)
		if err != nil {
			return err
		}
		c.Bursts = append(c.Bursts, bb)
	}
	var w io.Writer = os.Stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := load.Run(ctx, c, w)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "testbed load:", sum)
	return nil
}
