// SPDX-License-Identifier: AGPL-3.0-or-later

package web

import (
	"errors"
	"io"
	"net/http"
)

// ReadBody reads the whole request body, at most limit bytes; limit <= 0
// means only the server's cap (Config.MaxBodyBytes) applies. A body over the
// limit, or over the server's cap, yields an error for which [IsTooLarge]
// reports true, and the handler should answer 413; a declared Content-Length
// over the limit fails before anything is read. Any other error is a failed
// read (the client went away, the read timed out).
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if limit > 0 {
		if r.ContentLength > limit {
			return nil, &http.MaxBytesError{Limit: limit}
		}
		r.Body = http.MaxBytesReader(unwrap(w), r.Body, limit)
	}
	return io.ReadAll(r.Body)
}

// IsTooLarge reports whether err comes from a request body over its limit.
func IsTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// unwrap returns the ResponseWriter net/http made, beneath the middleware's
// wrappers, so that http.MaxBytesReader can tell net/http to close the
// connection after an oversized body.
func unwrap(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}
