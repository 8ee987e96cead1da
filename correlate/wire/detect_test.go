package wire

import "testing"

func TestDetect(t *testing.T) {
	zmq := "\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f\x03\x00NULL"
	for _, tc := range []struct {
		in   string
		want Proto
	}{
		{"", ProtoUnknown},
		{"G", ProtoUnknown},
		{"GET", ProtoUnknown},
		{"GET ", ProtoHTTPRequest},
		{"POST /v1/chat/completions HTTP/1.1\r\n", ProtoHTTPRequest},
		{"OPTIONS * HTTP/1.1", ProtoHTTPRequest},
		{"P", ProtoUnknown},
		{"PR", ProtoUnknown},
		{"PRI * ", ProtoHTTP2},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ProtoHTTP2},
		{"PUT /x", ProtoHTTPRequest},
		{"H", ProtoUnknown},
		{"HTTP/1", ProtoUnknown},
		{"HTTP/1.1 200 OK\r\n", ProtoHTTPResponse},
		{"HTTP/1.0 500", ProtoHTTPResponse},
		{"HTTP/2 200", ProtoBinary},
		{"HEAD / HTTP/1.1", ProtoHTTPRequest},
		{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", ProtoTLS},
		{"\x16", ProtoTLS},
		{"\x16\x01", ProtoBinary},
		{zmq, ProtoZMQ},
		{zmq[:3], ProtoZMQ},
		{"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x00", ProtoBinary},
		{"get / HTTP/1.1", ProtoBinary},
		{"GETS / HTTP/1.1", ProtoBinary},
		{`{"op":"add"}`, ProtoBinary},
		{"\x00\x00\x00\x10NCCL", ProtoBinary},
		{"SSH-2.0-OpenSSH", ProtoBinary},
	} {
		if got := Detect([]byte(tc.in)); got != tc.want {
			t.Errorf("Detect(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// Every prefix of a decisive input is either undecided or already the final answer, and
// DetectNeed bytes always decide.
func TestDetectPrefixes(t *testing.T) {
	for _, in := range []string{
		"POST /v1/completions HTTP/1.1\r\n", "HTTP/1.1 200 OK\r\n", "PRI * HTTP/2.0\r\n\r\n",
		"DELETE /x HTTP/1.1\r\n", "CONNECT h:443 HTTP/1.1\r\n", "PATCH / HTTP/1.1\r\n",
	} {
		final := Detect([]byte(in))
		for i := 0; i <= len(in); i++ {
			got := Detect([]byte(in[:i]))
			if got != ProtoUnknown && got != final {
				t.Errorf("Detect(%q) = %v, final %v", in[:i], got, final)
			}
			if i >= DetectNeed && got == ProtoUnknown {
				t.Errorf("Detect(%q) undecided after %d bytes", in[:i], i)
			}
		}
	}
}
