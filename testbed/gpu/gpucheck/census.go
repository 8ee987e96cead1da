package main

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/inferprobe/inferprobe/tracer/procfs"
)

// The census counts, for every function a libcuda exports under a cu* name, how often
// the server called it: one tracefs uprobe per symbol (census-start, tracefs.go), read
// back from uprobe_profile (census-stop) and joined with the symbols (census-report). It answers what inferprobe's probe table cannot say about itself: which
// variants PyTorch really reaches, and whether cudart's launches arrive at the public
// cuLaunchKernel symbols at all.

// symbol is one exported function: its name, virtual address and file offset.
type symbol struct {
	name   string
	addr   uint64
	offset uint64
}

// cuSymbols lists the defined functions libcuda exports whose names start with "cu",
// with the file offset a uprobe needs, sorted by name.
func cuSymbols(path string) ([]symbol, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open elf %s: %w", path, err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return nil, fmt.Errorf("read dynsym of %s: %w", path, err)
	}
	seen := map[string]bool{}
	var out []symbol
	for _, s := range syms {
		bind := elf.ST_BIND(s.Info)
		if !strings.HasPrefix(s.Name, "cu") || elf.ST_TYPE(s.Info) != elf.STT_FUNC ||
			(bind != elf.STB_GLOBAL && bind != elf.STB_WEAK) || s.Section == elf.SHN_UNDEF || s.Value == 0 ||
			!eventName.MatchString(s.Name) || seen[s.Name] {
			continue
		}
		off, ok := fileOffset(f, s.Value)
		if !ok {
			continue
		}
		seen[s.Name] = true
		out = append(out, symbol{s.Name, s.Value, off})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// eventName is what tracefs accepts as an event name (and what a symbol must look like
// to become one).
var eventName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// fileOffset turns a virtual address into the file offset of the PT_LOAD segment that
// maps it.
func fileOffset(f *elf.File, addr uint64) (uint64, bool) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr < p.Vaddr+p.Filesz {
			return addr - p.Vaddr + p.Off, true
		}
	}
	return 0, false
}

// probedFamily mirrors a row of inferprobe's probe table (tracer/probes.go): the family,
// its aliases, and whether the bare name is left out (its v1 ABI differs).
type probedFamily struct {
	family  string
	aliases []string
	noBase  bool
}

var probedFamilies = []probedFamily{
	{family: "cuLaunchKernel"}, {family: "cuLaunchKernelEx"}, {family: "cuLaunchCooperativeKernel"}, {family: "cuGraphLaunch"},
	{family: "cuStreamSynchronize"}, {family: "cuEventSynchronize"}, {family: "cuCtxSynchronize"},
	{family: "cuMemcpyDtoH", noBase: true}, {family: "cuMemcpyHtoD", noBase: true},
	{family: "cuMemcpyAsync"}, {family: "cuMemcpyDtoHAsync", noBase: true}, {family: "cuMemcpyHtoDAsync", noBase: true},
	{family: "cuEventRecord", aliases: []string{"cuEventRecordWithFlags"}},
	{family: "cuMemAlloc", noBase: true}, {family: "cuMemAllocAsync"}, {family: "cuMemFree", noBase: true},
	{family: "cuMemFreeAsync"}, {family: "cuMemCreate"}, {family: "cuMemMap"}, {family: "cuMemRelease"},
	{family: "cuModuleGetFunction"}, {family: "cuLibraryGetKernel"}, {family: "cuKernelGetFunction"},
	{family: "cuStreamBeginCapture", aliases: []string{"cuStreamBeginCaptureToGraph"}}, {family: "cuStreamEndCapture"},
	{family: "cuGraphInstantiate", aliases: []string{"cuGraphInstantiateWithFlags", "cuGraphInstantiateWithParams"}},
}

// probedSet is every symbol name inferprobe's table may attach.
func probedSet() map[string]bool {
	out := map[string]bool{}
	for _, p := range probedFamilies {
		for _, n := range procfs.Candidates(p.family, p.aliases...) {
			if !(p.noBase && n == p.family) {
				out[n] = true
			}
		}
	}
	return out
}

// interesting marks unprobed symbols whose hits would mean a gap: other ways to launch,
// wait or copy (a step boundary inferprobe could miss).
var interesting = regexp.MustCompile(`^cu(Launch|GraphLaunch|StreamSynchronize|EventSynchronize|CtxSynchronize|Memcpy|StreamWait|StreamQuery|EventQuery|LaunchHostFunc|StreamAddCallback|GetProcAddress)`)

// parseProfile reads tracefs uprobe_profile: "  FILE  EVENT  HITS" per line.
func parseProfile(r io.Reader) (map[string]uint64, error) {
	out := map[string]uint64{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 {
			return out, fmt.Errorf("uprobe_profile line %d: %q: want FILE EVENT HITS", n, sc.Text())
		}
		hits, err := strconv.ParseUint(f[len(f)-1], 10, 64)
		if err != nil {
			return out, fmt.Errorf("uprobe_profile line %d: hits: %w", n, err)
		}
		name := f[len(f)-2]
		if i := strings.IndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		out[name] += hits
	}
	return out, sc.Err()
}

// census is the joined result.
type census struct {
	exported, hit               int
	rows                        []censusRow // every hit symbol, most hits first
	probedHit, probedExported   int
	gaps                        []censusRow // hit, not probed, and interesting
	launchVariants, waitVariant []string    // probed launch / wait variants that were hit
}

type censusRow struct {
	name   string
	hits   uint64
	probed bool
}

func joinCensus(syms []symbol, hits map[string]uint64) *census {
	probed := probedSet()
	c := &census{exported: len(syms)}
	for _, s := range syms {
		p := probed[s.name]
		if p {
			c.probedExported++
		}
		h := hits[s.name]
		if h == 0 {
			continue
		}
		c.hit++
		row := censusRow{s.name, h, p}
		c.rows = append(c.rows, row)
		switch {
		case p:
			c.probedHit++
			if strings.HasPrefix(s.name, "cuLaunch") || strings.HasPrefix(s.name, "cuGraphLaunch") {
				c.launchVariants = append(c.launchVariants, s.name)
			}
			if strings.Contains(s.name, "Synchronize") || strings.HasPrefix(s.name, "cuMemcpyDtoH_") || strings.HasPrefix(s.name, "cuMemcpyHtoD_") {
				c.waitVariant = append(c.waitVariant, s.name)
			}
		case interesting.MatchString(s.name):
			c.gaps = append(c.gaps, row)
		}
	}
	sort.Slice(c.rows, func(i, j int) bool {
		if c.rows[i].hits != c.rows[j].hits {
			return c.rows[i].hits > c.rows[j].hits
		}
		return c.rows[i].name < c.rows[j].name
	})
	return c
}

func (c *census) write(w io.Writer) {
	fmt.Fprintf(w, "libcuda exports %d cu* functions; %d were called during the census; inferprobe probes %d of the exported, %d of them were called\n",
		c.exported, c.hit, c.probedExported, c.probedHit)
	fmt.Fprintf(w, "launch variants reached (probed): %s\n", list(c.launchVariants))
	fmt.Fprintf(w, "wait variants reached (probed): %s\n", list(c.waitVariant))
	if len(c.gaps) == 0 {
		fmt.Fprintln(w, "unprobed launch/wait/copy/query symbols reached: none")
	} else {
		fmt.Fprintln(w, "unprobed launch/wait/copy/query symbols reached (possible gaps):")
		for _, g := range c.gaps {
			fmt.Fprintf(w, "  %-40s %d\n", g.name, g.hits)
		}
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "symbol\thits\tprobed by inferprobe\t")
	for _, r := range c.rows {
		p := "no"
		if r.probed {
			p = "yes"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t\n", r.name, r.hits, p)
	}
	tw.Flush()
}

func list(v []string) string {
	if len(v) == 0 {
		return "none"
	}
	return strings.Join(v, ", ")
}

func runCensusReport(args []string, stdout io.Writer) error {
	if len(args) != 2 {
		fmt.Fprintln(stdout, "usage: gpucheck census-report LIBCUDA UPROBE_PROFILE")
		return errUsage
	}
	syms, err := cuSymbols(args[0])
	if err != nil {
		return err
	}
	f, err := os.Open(args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	hits, err := parseProfile(f)
	if err != nil {
		return err
	}
	if len(hits) == 0 {
		return errors.New("uprobe_profile lists no probes: the census probes were not registered")
	}
	joinCensus(syms, hits).write(stdout)
	return nil
}
