package export

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// selfSigned writes a self-signed ECDSA certificate for 127.0.0.1 and its key into dir
// and returns a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "inferprobe-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// serveTest starts ServeListener on a free port and returns its address; the server stops
// when the test ends, and the test fails if it did not stop cleanly.
func serveTest(t *testing.T, webConfig string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "inferprobe_build_info 1\n")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, l, &http.Server{Handler: mux}, webConfig, nil) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v after cancel, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not return within 10s of cancel")
		}
	})
	return l.Addr().String()
}

func get(t *testing.T, c *http.Client, url, user, pass string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeTLSBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "web.yml")
	body := fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prometheus: %s\n",
		certFile, keyFile, hash)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := serveTest(t, cfg)
	tlsClient := &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := "https://" + addr + "/metrics"

	if code, _ := get(t, tlsClient, url, "", ""); code != http.StatusUnauthorized {
		t.Errorf("scrape without credentials: status %d, want 401", code)
	}
	if code, _ := get(t, tlsClient, url, "prometheus", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("scrape with a wrong password: status %d, want 401", code)
	}
	if code, _ := get(t, tlsClient, url, "someone", "s3cret"); code != http.StatusUnauthorized {
		t.Errorf("scrape as an unknown user: status %d, want 401", code)
	}
	code, got := get(t, tlsClient, url, "prometheus", "s3cret")
	if code != http.StatusOK || got != "inferprobe_build_info 1\n" {
		t.Errorf("scrape with the right password: status %d body %q, want 200 and the exposition", code, got)
	}

	// Plain HTTP to the TLS port never reaches the handler: either the connection fails
	// or Go's TLS server answers 400 "client sent an HTTP request to an HTTPS server".
	plain := &http.Client{Timeout: 5 * time.Second}
	resp, err := plain.Get("http://" + addr + "/metrics")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(b), "inferprobe_build_info") {
			t.Errorf("plain HTTP to the TLS port: status %d body %q, want a refusal", resp.StatusCode, b)
		}
	}

	// A client that does not trust the certificate is refused at the handshake.
	untrusting := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	if resp, err := untrusting.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("client without the CA: status %d, want a certificate error", resp.StatusCode)
	}
}

func TestServeBasicAuthWithoutTLS(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(cfg, []byte("basic_auth_users:\n  scraper: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := serveTest(t, cfg)
	c := &http.Client{Timeout: 5 * time.Second}
	if code, _ := get(t, c, "http://"+addr+"/metrics", "", ""); code != http.StatusUnauthorized {
		t.Errorf("no credentials: status %d, want 401", code)
	}
	if code, _ := get(t, c, "http://"+addr+"/metrics", "scraper", "pw"); code != http.StatusOK {
		t.Errorf("right credentials: status %d, want 200", code)
	}
}

func TestServePlainWithoutConfig(t *testing.T) {
	addr := serveTest(t, "")
	code, got := get(t, &http.Client{Timeout: 5 * time.Second}, "http://"+addr+"/metrics", "", "")
	if code != http.StatusOK || got != "inferprobe_build_info 1\n" {
		t.Errorf("no web config: status %d body %q, want 200 and the exposition", code, got)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"unknown field":   "tls_server_confg:\n  cert_file: x\n",
		"missing cert":    "tls_server_config:\n  cert_file: " + filepath.Join(dir, "nope.crt") + "\n  key_file: " + filepath.Join(dir, "nope.key") + "\n",
		"plain password":  "basic_auth_users:\n  u: not-a-bcrypt-hash\n",
		"not yaml at all": "{{{",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yml")
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Addr: "127.0.0.1:0"}
			err := Serve(context.Background(), srv, cfg, nil)
			if err == nil || !strings.Contains(err.Error(), "web config") {
				t.Errorf("Serve with %s: %v, want a web config error", name, err)
			}
		})
	}
	if err := Serve(context.Background(), &http.Server{Addr: "127.0.0.1:0"}, filepath.Join(dir, "absent.yml"), nil); err == nil {
		t.Error("Serve with a missing web config file: nil error, want one")
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, &http.Server{Addr: "127.0.0.1:0"}, "", nil) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of cancel")
	}
}

func TestServeListenError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = Serve(context.Background(), &http.Server{Addr: l.Addr().String()}, "", nil)
	if err == nil || !strings.Contains(err.Error(), "listen "+l.Addr().String()) {
		t.Errorf("Serve on a taken port: %v, want a listen error naming the address", err)
	}
}
