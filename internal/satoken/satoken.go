// Package satoken issues and verifies service account tokens: JWTs signed with the cluster's
// service-account key, carrying the claims upstream's TokenRequest API writes (issuer,
// subject system:serviceaccount:<ns>:<name>, audiences, expiry, and under "kubernetes.io" the
// namespace, the service account and the object the token is bound to).
//
// It checks only what the token itself says (signature, issuer, audience, time). Whether the
// service account and the bound object still exist is the API server's check, which has the
// storage to look.
package satoken

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// DefaultIssuer is upstream's default --service-account-issuer for the cluster domain
// cluster.local; it is also the API server's own audience.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// Ref names an object a token is bound to (or the service account it is for).
type Ref struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// Request is what a token says.
type Request struct {
	Namespace      string
	ServiceAccount Ref
	// At most one of Pod and Secret; Node may come with Pod (the pod's node).
	Pod, Secret, Node *Ref
	Audiences         []string
	Expiration        time.Duration
}

// Claims is a verified token's content.
type Claims struct {
	Request
	ID        string // jti
	Subject   string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

type privateClaims struct {
	K8s k8sClaims `json:"kubernetes.io"`
}

type k8sClaims struct {
	Namespace      string `json:"namespace"`
	ServiceAccount Ref    `json:"serviceaccount"`
	Pod            *Ref   `json:"pod,omitempty"`
	Secret         *Ref   `json:"secret,omitempty"`
	Node           *Ref   `json:"node,omitempty"`
	WarnAfter      *int64 `json:"warnafter,omitempty"`
}

// Issuer signs and verifies tokens with one key.
type Issuer struct {
	key    *ecdsa.PrivateKey
	signer jose.Signer
	issuer string
	now    func() time.Time
}

// New returns an Issuer for key under the issuer name iss ("" means DefaultIssuer).
func New(key *ecdsa.PrivateKey, iss string) (*Issuer, error) {
	if key == nil {
		return nil, errors.New("satoken: no key")
	}
	if iss == "" {
		iss = DefaultIssuer
	}
	kid, err := KeyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return nil, fmt.Errorf("satoken: signer: %w", err)
	}
	return &Issuer{key: key, signer: signer, issuer: iss, now: time.Now}, nil
}

// Issuer returns the iss claim this Issuer writes and accepts.
func (i *Issuer) Issuer() string { return i.issuer }

// Issue signs a token for r and returns it with its expiry.
func (i *Issuer) Issue(r Request) (string, time.Time, error) {
	if r.Namespace == "" || r.ServiceAccount.Name == "" {
		return "", time.Time{}, errors.New("satoken: namespace and service account are required")
	}
	if r.Expiration <= 0 {
		return "", time.Time{}, errors.New("satoken: expiration must be positive")
	}
	aud := r.Audiences
	if len(aud) == 0 {
		aud = []string{i.issuer}
	}
	now := i.now().Truncate(time.Second)
	exp := now.Add(r.Expiration)
	std := jwt.Claims{
		Issuer:    i.issuer,
		Subject:   "system:serviceaccount:" + r.Namespace + ":" + r.ServiceAccount.Name,
		Audience:  jwt.Audience(aud),
		Expiry:    jwt.NewNumericDate(exp),
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ID:        string(uuid.NewUUID()),
	}
	priv := privateClaims{K8s: k8sClaims{Namespace: r.Namespace, ServiceAccount: r.ServiceAccount,
		Pod: r.Pod, Secret: r.Secret, Node: r.Node}}
	tok, err := jwt.Signed(i.signer).Claims(std).Claims(priv).CompactSerialize()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("satoken: sign: %w", err)
	}
	return tok, exp, nil
}

// ErrNotOurs means the token is not a JWT from this issuer: another authenticator may try it.
var ErrNotOurs = errors.New("satoken: not a token of this issuer")

// Verify checks the token's signature, issuer, time and that one of its audiences is in
// audiences (nil: the issuer itself), and returns what it says.
func (i *Issuer) Verify(raw string, audiences []string) (*Claims, error) {
	t, err := jwt.ParseSigned(raw)
	if err != nil {
		return nil, ErrNotOurs
	}
	var std jwt.Claims
	var priv privateClaims
	// An unverified look at the issuer first: a token of another issuer is not ours to reject.
	if err := t.UnsafeClaimsWithoutVerification(&std); err != nil || std.Issuer != i.issuer {
		return nil, ErrNotOurs
	}
	if err := t.Claims(&i.key.PublicKey, &std, &priv); err != nil {
		return nil, fmt.Errorf("invalid bearer token: %w", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: i.issuer, Time: i.now()}, 0); err != nil {
		if errors.Is(err, jwt.ErrExpired) {
			return nil, errors.New("service account token has expired")
		}
		return nil, fmt.Errorf("invalid bearer token: %w", err)
	}
	if len(audiences) == 0 {
		audiences = []string{i.issuer}
	}
	ok := false
	for _, a := range audiences {
		if std.Audience.Contains(a) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, errors.New("token audiences " + fmt.Sprint([]string(std.Audience)) + " is invalid for the target audiences " + fmt.Sprint(audiences))
	}
	k := priv.K8s
	want := "system:serviceaccount:" + k.Namespace + ":" + k.ServiceAccount.Name
	if k.Namespace == "" || k.ServiceAccount.Name == "" || std.Subject != want {
		return nil, errors.New("invalid bearer token: subject and kubernetes.io claims disagree")
	}
	c := &Claims{
		Request: Request{Namespace: k.Namespace, ServiceAccount: k.ServiceAccount, Pod: k.Pod,
			Secret: k.Secret, Node: k.Node, Audiences: std.Audience},
		ID: std.ID, Subject: std.Subject,
	}
	if std.IssuedAt != nil {
		c.IssuedAt = std.IssuedAt.Time()
	}
	if std.Expiry != nil {
		c.ExpiresAt = std.Expiry.Time()
		c.Expiration = c.ExpiresAt.Sub(c.IssuedAt)
	}
	return c, nil
}

// KeyID is upstream's kid for a public key: the unpadded base64url SHA-256 of its DER form.
func KeyID(pub *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("satoken: key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
