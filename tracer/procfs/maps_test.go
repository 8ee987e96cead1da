package procfs

import (
	"errors"
	"testing"
)

func TestParseMapsLine(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Mapping
		err      bool
	}{
		{"library", "7f2000400000-7f2001c00000 r-xp 00400000 00:2f 3301                   /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15",
			Mapping{0x7f2000400000, 0x7f2001c00000, "r-xp", 0x400000, Dev{0, 0x2f}, 3301, "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15", false}, false},
		{"space and deleted", "7f4000000000-7f4000400000 r--p 00000000 fd:01 5501 /opt/my libs/libcuda.so.1 (deleted)",
			Mapping{0x7f4000000000, 0x7f4000400000, "r--p", 0, Dev{0xfd, 1}, 5501, "/opt/my libs/libcuda.so.1", true}, false},
		{"escaped newline", "1000-2000 r-xp 00000000 08:10 9 /tmp/a\\012b",
			Mapping{0x1000, 0x2000, "r-xp", 0, Dev{8, 0x10}, 9, "/tmp/a\nb", false}, false},
		{"big major", "1000-2000 r-xp 00000000 103:02 9 /x",
			Mapping{0x1000, 0x2000, "r-xp", 0, Dev{0x103, 2}, 9, "/x", false}, false},
		{"heap", "55d0c2a00000-55d0c2f00000 rw-p 00000000 00:00 0                          [heap]",
			Mapping{0x55d0c2a00000, 0x55d0c2f00000, "rw-p", 0, Dev{}, 0, "[heap]", false}, false},
		{"anonymous, trailing space", "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 ",
			Mapping{0x7f0000000000, 0x7f0000021000, "rw-p", 0, Dev{}, 0, "", false}, false},
		{"anonymous, no space", "7f0000000000-7f0000021000 rw-p 00000000 00:00 0",
			Mapping{0x7f0000000000, 0x7f0000021000, "rw-p", 0, Dev{}, 0, "", false}, false},
		{"vsyscall", "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]",
			Mapping{0xffffffffff600000, 0xffffffffff601000, "--xp", 0, Dev{}, 0, "[vsyscall]", false}, false},
		{"anon deleted is a name", "1000-2000 rw-p 00000000 00:00 0 [anon: x (deleted)]",
			Mapping{0x1000, 0x2000, "rw-p", 0, Dev{}, 0, "[anon: x (deleted)]", false}, false},
		{"short", "1000-2000 r-xp 00000000 08:10", Mapping{}, true},
		{"range reversed", "2000-1000 r-xp 00000000 08:10 9 /x", Mapping{}, true},
		{"range no dash", "1000 r-xp 00000000 08:10 9 /x", Mapping{}, true},
		{"perms", "1000-2000 r-x 00000000 08:10 9 /x", Mapping{}, true},
		{"offset", "1000-2000 r-xp 0000g000 08:10 9 /x", Mapping{}, true},
		{"dev", "1000-2000 r-xp 00000000 0810 9 /x", Mapping{}, true},
		{"inode", "1000-2000 r-xp 00000000 08:10 -9 /x", Mapping{}, true},
		{"empty", "", Mapping{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMapsLine(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestFSMaps(t *testing.T) {
	ms, err := fixture.Maps(101)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 8 {
		t.Fatalf("%d mappings, want 8", len(ms))
	}
	exec := 0
	for _, m := range ms {
		if m.Exec() {
			exec++
		}
	}
	if exec != 3 {
		t.Errorf("%d executable mappings, want 3", exec)
	}
	if m := ms[4]; m.MapFilesName() != "7f2000400000-7f2001c00000" || !m.IsFile() {
		t.Errorf("mapping 4: map_files name %q, file %v", m.MapFilesName(), m.IsFile())
	}
	if ms, err := fixture.Maps(304); err != nil || len(ms) != 0 {
		t.Errorf("zombie maps: %d mappings, err %v; want none", len(ms), err)
	}
	if _, err := fixture.Maps(999); !errors.Is(err, ErrGone) {
		t.Errorf("maps of 999: err %v, want ErrGone", err)
	}
	if _, err := ParseMaps([]byte("1000-2000 r-xp 0 08:10 9 /x\nbad line\n")); err == nil {
		t.Error("bad second line: no error")
	}
}
