package satoken

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func newIssuer(t *testing.T) *Issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	i, err := New(key, "")
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestIssueAndVerifyBoundToken(t *testing.T) {
	i := newIssuer(t)
	req := Request{Namespace: "team", ServiceAccount: Ref{"builder", "sa-uid"},
		Pod: &Ref{"web-0", "pod-uid"}, Node: &Ref{"n1", "node-uid"}, Expiration: time.Hour}
	tok, exp, err := i.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d < 59*time.Minute || d > time.Hour {
		t.Errorf("expiry in %v, want an hour", d)
	}
	// The payload is what upstream's tokens carry.
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWT: %q", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(payload, &body); err != nil {
		t.Fatal(err)
	}
	if body["iss"] != DefaultIssuer || body["sub"] != "system:serviceaccount:team:builder" {
		t.Errorf("iss %v sub %v", body["iss"], body["sub"])
	}
	k8s, _ := body["kubernetes.io"].(map[string]any)
	if k8s["namespace"] != "team" || k8s["pod"].(map[string]any)["uid"] != "pod-uid" || k8s["serviceaccount"].(map[string]any)["name"] != "builder" {
		t.Errorf("kubernetes.io claims %v", k8s)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if !strings.Contains(string(header), `"alg":"ES256"`) || !strings.Contains(string(header), `"kid":`) {
		t.Errorf("header %s", header)
	}

	c, err := i.Verify(tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Namespace != "team" || c.ServiceAccount != (Ref{"builder", "sa-uid"}) || c.Pod == nil || *c.Pod != (Ref{"web-0", "pod-uid"}) ||
		c.Node == nil || c.Node.Name != "n1" || c.ID == "" || c.Subject != "system:serviceaccount:team:builder" {
		t.Errorf("claims %+v", c)
	}
}

func TestVerifyRejects(t *testing.T) {
	i := newIssuer(t)
	good := Request{Namespace: "ns", ServiceAccount: Ref{"sa", "u"}, Expiration: time.Hour}

	tok, _, err := i.Issue(Request{Namespace: "ns", ServiceAccount: Ref{"sa", "u"}, Expiration: time.Hour, Audiences: []string{"vault"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := i.Verify(tok, nil); err == nil || !strings.Contains(err.Error(), "audiences") {
		t.Errorf("token for another audience: %v", err)
	}
	if _, err := i.Verify(tok, []string{"vault"}); err != nil {
		t.Errorf("token for its own audience: %v", err)
	}

	past := i.now
	i.now = func() time.Time { return past().Add(-2 * time.Hour) }
	old, _, err := i.Issue(good)
	i.now = past
	if err != nil {
		t.Fatal(err)
	}
	if _, err := i.Verify(old, nil); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v", err)
	}

	// Signed by another key of the same issuer name: a forgery.
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, err := New(otherKey, "")
	if err != nil {
		t.Fatal(err)
	}
	forged, _, err := other.Issue(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := i.Verify(forged, nil); err == nil || errors.Is(err, ErrNotOurs) {
		t.Errorf("forged token: %v, want a rejection", err)
	}

	// Another issuer's token, or no JWT at all, is not ours to judge.
	foreign, _ := New(otherKey, "https://elsewhere")
	ftok, _, _ := foreign.Issue(good)
	for _, raw := range []string{ftok, "abc", "", "a.b.c"} {
		if _, err := i.Verify(raw, nil); !errors.Is(err, ErrNotOurs) {
			t.Errorf("Verify(%.20q) = %v, want ErrNotOurs", raw, err)
		}
	}

	// A tampered payload fails the signature.
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"sa"`, `"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	if _, err := i.Verify(strings.Join(parts, "."), []string{"vault"}); err == nil {
		t.Error("tampered token verified")
	}
}
