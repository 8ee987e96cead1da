package procfs

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func littleEndian(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the net table fixtures are written as a little-endian kernel prints them")
	}
}

func TestListenersFixture(t *testing.T) {
	littleEndian(t)
	any4, any6 := netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::")
	for pid, want := range map[int][]Listener{
		// owns 0.0.0.0:8000, :::8001, two listening unix sockets; and an established
		// tcp, tcp6 and unix connection, a netlink socket, a pipe, which do not count
		100: {
			{Inode: 1001, Family: "tcp", Addr: any4, Port: 8000},
			{Inode: 1003, Family: "tcp6", Addr: any6, Port: 8001},
			{Inode: 1004, Family: "unix", Path: "/tmp/vllm ipc sock"},
			{Inode: 1006, Family: "unix", Path: "@zmq-engine"},
		},
		// same tables (same netns), other fds
		101: {{Inode: 1010, Family: "tcp", Addr: netip.MustParseAddr("127.0.0.1"), Port: 8888}},
		304: nil, // no sockets (git keeps no empty fd directory, so it holds /dev/null)
	} {
		got, err := fixture.Listeners(pid)
		if err != nil {
			t.Fatalf("Listeners(%d): %v", pid, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Listeners(%d)\n got  %+v\n want %+v", pid, got, want)
		}
	}
	if _, err := fixture.Listeners(999); !errors.Is(err, ErrGone) {
		t.Errorf("Listeners(999): err %v, want ErrGone", err)
	}
}

func TestParseNetTCP(t *testing.T) {
	littleEndian(t)
	const hdr = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	row := func(local, st, ino string) string {
		return "   0: " + local + " 00000000:0000 " + st + " 00000000:00000000 00:00000000 00000000     0        0 " + ino + " 1 0 100 0 0 10 0\n"
	}
	got, err := ParseNetTCP([]byte(hdr+row("0100007F:1F90", "0A", "55")+row("0100007F:1F91", "01", "56")+row("0A00020F:0050", "0A", "57")), "tcp")
	want := []Listener{
		{Inode: 55, Family: "tcp", Addr: netip.MustParseAddr("127.0.0.1"), Port: 8080},
		{Inode: 57, Family: "tcp", Addr: netip.MustParseAddr("15.2.0.10"), Port: 80},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("tcp: got %+v, %v; want %+v", got, err, want)
	}
	v6 := "B80D0120000000000000000001000000:01BB" // 2001:db8::1 port 443
	got, err = ParseNetTCP([]byte(hdr+row(v6, "0A", "9")), "tcp6")
	want = []Listener{{Inode: 9, Family: "tcp6", Addr: netip.MustParseAddr("2001:db8::1"), Port: 443}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("tcp6: got %+v, %v; want %+v", got, err, want)
	}
	if got, err := ParseNetTCP([]byte(hdr), "tcp"); err != nil || len(got) != 0 {
		t.Errorf("header only: %+v, %v", got, err)
	}
	for name, in := range map[string]string{
		"short row":      hdr + "   0: 0100007F:1F90 00000000:0000 0A\n",
		"bad state":      hdr + row("0100007F:1F90", "ZZ", "1"),
		"bad port":       hdr + row("0100007F:XXXX", "0A", "1"),
		"v6 addr in tcp": hdr + row(v6, "0A", "1"),
		"bad inode":      hdr + row("0100007F:1F90", "0A", "x"),
	} {
		if _, err := ParseNetTCP([]byte(in), "tcp"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := ParseNetTCP([]byte(hdr), "udp"); err == nil {
		t.Error("family udp: no error")
	}
}

func TestParseNetUnix(t *testing.T) {
	in := "Num       RefCount Protocol Flags    Type St Inode Path\n" +
		"0000000000000000: 00000002 00000000 00010000 0001 01 31 /run/a b.sock\n" +
		"0000000000000000: 00000002 00000000 00010000 0005 01 32 @abs@x\n" +
		"0000000000000000: 00000002 00000000 00010000 0001 01 33\n" +
		"0000000000000000: 00000003 00000000 00000000 0001 03 34 /run/a b.sock\n"
	got, err := ParseNetUnix([]byte(in))
	want := []Listener{
		{Inode: 31, Family: "unix", Path: "/run/a b.sock"},
		{Inode: 32, Family: "unix", Path: "@abs@x"},
		{Inode: 33, Family: "unix"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{"h\n0000: 2 0 zz 0001 01 31 /x\n", "h\n0000: 2 0 00010000 0001 01 x /x\n", "h\n0000: 2 0\n"} {
		if _, err := ParseNetUnix([]byte(bad)); err == nil {
			t.Errorf("ParseNetUnix(%q): no error", bad)
		}
	}
}
