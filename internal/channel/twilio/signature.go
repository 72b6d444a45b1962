// SPDX-License-Identifier: AGPL-3.0-or-later

package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/lifeline-hotline/lifeline/internal/channel"
)

// SignatureHeader carries Twilio's webhook signature.
const SignatureHeader = "X-Twilio-Signature"

// Signature is the X-Twilio-Signature Twilio computes for a request to
// fullURL (scheme, host, port if any, path and query exactly as configured)
// carrying the POST params: base64(HMAC-SHA1(authToken, fullURL + for each
// param name in byte order: name + value)). A name given several times
// contributes name+value for each distinct value, values in byte order, as
// the official SDKs (twilio-node, twilio-python) compute it. For a JSON body
// pass nil params: Twilio then signs the URL alone, whose bodySHA256 query
// parameter carries the body's hash.
func Signature(authToken, fullURL string, params url.Values) string {
	return base64.StdEncoding.EncodeToString(signature(authToken, fullURL, params))
}

func signature(authToken, fullURL string, params url.Values) []byte {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		values := slices.Clone(params[name])
		slices.Sort(values)
		for _, v := range slices.Compact(values) {
			mac.Write([]byte(name))
			mac.Write([]byte(v))
		}
	}
	return mac.Sum(nil)
}

// verifier authenticates Twilio webhooks against the canonical public URL;
// it is shared by the SMS and (later) voice adapters.
type verifier struct {
	tokens []string // the primary auth token, then an optional secondary
	base   string   // canonical public base URL, no trailing slash
	// alt is base with the scheme's default port added (or removed, if
	// base carries it): Twilio signs either form, so every SDK tries both.
	alt string
}

func newVerifier(base string, tokens ...string) verifier {
	v := verifier{base: base}
	for _, t := range tokens {
		if t != "" {
			v.tokens = append(v.tokens, t)
		}
	}
	u, err := url.Parse(base)
	if err != nil {
		return v
	}
	def := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	switch u.Port() {
	case "":
		u.Host += ":" + def
		v.alt = u.String()
	case def:
		u.Host = u.Hostname()
		if strings.Contains(u.Host, ":") { // IPv6 literal
			u.Host = "[" + u.Host + "]"
		}
		v.alt = u.String()
	}
	return v
}

// requestURL is what Twilio signed: the canonical base, never Host or any
// X-Forwarded-* header, then the path and query exactly as received.
func requestURL(base string, r *http.Request) string {
	s := base + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		s += "?" + r.URL.RawQuery
	}
	return s
}

// verify checks the request's one X-Twilio-Signature over the form POST
// params, or for a JSON body over the URL and its bodySHA256, in constant
// time. Every failure is channel.ErrUnauthorized.
func (v verifier) verify(r *http.Request, body []byte) error {
	if len(v.tokens) == 0 {
		return channel.ErrUnauthorized // fail closed: never configured
	}
	headers := r.Header.Values(SignatureHeader)
	if len(headers) != 1 {
		return channel.ErrUnauthorized
	}
	got, err := base64.StdEncoding.Strict().DecodeString(headers[0])
	if err != nil || len(got) != sha1.Size {
		return channel.ErrUnauthorized
	}

	var params url.Values
	switch mediaType(r) {
	case "application/x-www-form-urlencoded":
		// ParseQuery skips pairs it cannot decode and reports the first;
		// what it parsed is checked here, and Parse rejects the body
		// afterwards, so malformed encoding is never taken for authentic.
		params, _ = url.ParseQuery(string(body))
	case "application/json":
		if err := verifyBodyHash(r, body); err != nil {
			return err
		}
	default:
		return channel.ErrUnauthorized
	}

	ok := false
	for _, token := range v.tokens {
		for _, base := range []string{v.base, v.alt} {
			if base == "" {
				continue
			}
			want := signature(token, requestURL(base, r), params)
			ok = hmac.Equal(got, want) || ok
		}
	}
	if !ok {
		return channel.ErrUnauthorized
	}
	return nil
}

// verifyBodyHash checks a JSON body against the one bodySHA256 query
// parameter Twilio signs with the URL.
func verifyBodyHash(r *http.Request, body []byte) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(q["bodySHA256"]) != 1 {
		return channel.ErrUnauthorized
	}
	want, err := hex.DecodeString(q.Get("bodySHA256"))
	sum := sha256.Sum256(body)
	if err != nil || !hmac.Equal(sum[:], want) {
		return channel.ErrUnauthorized
	}
	return nil
}

// mediaType is the request's Content-Type without parameters, lower case,
// or "" if it has none or it does not parse.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}
