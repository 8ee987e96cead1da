package procfs

import (
	"debug/elf"
	"errors"
	"fmt"
	"slices"
)

// VariantSuffixes are the suffixes CUDA driver entry points are exported under: the
// versioned ABIs (_v2, _v3) and the per-thread default stream flavours (_ptsz for
// stream calls, _ptds for copies), alone and combined.
var VariantSuffixes = []string{"", "_v2", "_v3", "_ptsz", "_ptds", "_v2_ptsz", "_v2_ptds", "_v3_ptsz", "_v3_ptds"}

// ELFSymbols returns which of the wanted names the ELF file at path exports in .dynsym as
// defined functions (STT_FUNC, global or weak, in a section, non-zero value), with their
// values (virtual addresses). A name exported under several symbol versions gets its
// default (non-hidden) one. A file without .dynsym exports nothing.
func ELFSymbols(path string, want []string) (map[string]uint64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open elf %s: %w", path, err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if errors.Is(err, elf.ErrNoSymbols) {
		return map[string]uint64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dynsym of %s: %w", path, err)
	}
	wanted := make(map[string]bool, len(want))
	for _, w := range want {
		wanted[w] = true
	}
	out := make(map[string]uint64)
	hidden := make(map[string]bool)
	for _, s := range syms {
		bind := elf.ST_BIND(s.Info)
		if !wanted[s.Name] || elf.ST_TYPE(s.Info) != elf.STT_FUNC ||
			(bind != elf.STB_GLOBAL && bind != elf.STB_WEAK) ||
			s.Section == elf.SHN_UNDEF || s.Section >= elf.SHN_LORESERVE && s.Section != elf.SHN_ABS ||
			s.Value == 0 {
			continue
		}
		h := s.HasVersion && s.VersionIndex.IsHidden()
		if _, ok := out[s.Name]; ok && (h || !hidden[s.Name]) {
			continue
		}
		out[s.Name], hidden[s.Name] = s.Value, h
	}
	return out, nil
}

// Candidates lists every name the family (and its aliases) may be exported under: each
// name with each of VariantSuffixes. It is the want list for ELFSymbols.
func Candidates(family string, aliases ...string) []string {
	names := append([]string{family}, aliases...)
	out := make([]string, 0, len(names)*len(VariantSuffixes))
	for _, n := range names {
		for _, s := range VariantSuffixes {
			out = append(out, n+s)
		}
	}
	return out
}

// Variants returns the names of Candidates(family, aliases...) present in exported, in
// that order (family before aliases, suffixes in VariantSuffixes order). For example
// Variants("cuGraphInstantiate", syms, "cuGraphInstantiateWithFlags",
// "cuGraphInstantiateWithParams") gives every graph instantiation entry point to probe.
func Variants(family string, exported map[string]uint64, aliases ...string) []string {
	return slices.DeleteFunc(Candidates(family, aliases...), func(n string) bool {
		_, ok := exported[n]
		return !ok
	})
}
