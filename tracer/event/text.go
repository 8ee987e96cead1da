package event

import "fmt"

// Enums are written by name in JSON, so the raw stream and `inferprobe events` read well.

func (c Call) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

func (c *Call) UnmarshalText(b []byte) error {
	v, err := ParseCall(string(b))
	*c = v
	return err
}

func (o SockOp) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

func (o *SockOp) UnmarshalText(b []byte) error { return parseName(b, sockOpNames, o, "socket op") }

func (s Syscall) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Syscall) UnmarshalText(b []byte) error { return parseName(b, syscallNames, s, "syscall") }

func (o ProcOp) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

func (o *ProcOp) UnmarshalText(b []byte) error { return parseName(b, procOpNames, o, "process op") }

func (f Family) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

func (f *Family) UnmarshalText(b []byte) error {
	for _, v := range []Family{FamilyUnix, FamilyInet, FamilyInet6} {
		if v.String() == string(b) {
			*f = v
			return nil
		}
	}
	var n uint16
	if _, err := fmt.Sscanf(string(b), "af(%d)", &n); err != nil {
		return fmt.Errorf("unknown family %q", b)
	}
	*f = Family(n)
	return nil
}

func parseName[T comparable](b []byte, names map[T]string, out *T, what string) error {
	for v, n := range names {
		if n == string(b) {
			*out = v
			return nil
		}
	}
	return fmt.Errorf("unknown %s %q", what, b)
}
