// SPDX-License-Identifier: AGPL-3.0-or-later

package web_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/web"
)

func TestMetrics(t *testing.T) {
	s, _, _ := MustNewServer(t, web.Config{}, nil)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	do(t, srv, "GET", "/test/item/"+canaryPath+"?phone="+canaryQuery, nil, nil)
	do(t, srv, "GET", "/test/item/other", nil, nil)
	do(t, srv, "GET", "/"+canaryPath, nil, nil)
	do(t, srv, "POST", "/test/body", strings.NewReader(strings.Repeat("x", testMaxBody+1)), nil)

	resp, body := do(t, srv, "GET", "/metrics", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status: got %d, want 200", resp.StatusCode)
	}
	for _, want := range []string{
		`http_requests_total{code="200",route="GET /test/item/{id}"} 2`,
		`http_requests_total{code="404",route="unmatched"} 1`,
		`http_requests_total{code="413",route="POST /test/body"} 1`,
		`http_request_duration_seconds_count{route="GET /test/item/{id}"} 2`,
		`http_request_duration_seconds_bucket{route="unmatched",le="+Inf"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	assertNoCanary(t, "metrics", body)
	if strings.Contains(body, "/test/item/other") {
		t.Errorf("metrics contain a raw path:\n%s", body)
	}
}

// TestMetricsSharedRegistry shows that two servers may share a registry.
func TestMetricsSharedRegistry(t *testing.T) {
	_, _, reg := MustNewServer(t, web.Config{}, nil)
	web.NewServer(nil, web.Config{}, nil, reg)
}
