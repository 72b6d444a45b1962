// SPDX-License-Identifier: AGPL-3.0-or-later

package media

import (
	"bytes"
	"errors"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
)

// ErrNoPreview means a file has no rendition the console may show inline:
// a document or a video, opened only by those who may see originals.
var ErrNoPreview = errors.New("media: no preview for this type")

// Preview returns what the console shows of a stored file. An image is
// decoded and drawn afresh as a PNG: no byte of the original reaches the
// browser, so neither its metadata (EXIF, GPS, camera serials) nor a
// polyglot payload does. Audio (voice notes) is passed as it is, for the
// browser's player behind nosniff and a sandboxing CSP. The file was
// checked by Check when stored; Preview checks dimensions again, since it
// decodes.
func Preview(mime string, data []byte) (string, []byte, error) {
	switch mime {
	case "image/jpeg", "image/png", "image/gif":
		if r := checkImage(mime, data); r != "" {
			return "", nil, errors.New("media: " + r)
		}
		var img image.Image
		var err error
		switch mime {
		case "image/jpeg":
			img, err = jpeg.Decode(bytes.NewReader(data))
		case "image/png":
			img, err = png.Decode(bytes.NewReader(data))
		default:
			img, err = gif.Decode(bytes.NewReader(data)) // the first frame
		}
		if err != nil {
			return "", nil, err
		}
		var out bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, img); err != nil {
			return "", nil, err
		}
		return "image/png", out.Bytes(), nil
	case "audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac":
		return mime, data, nil
	}
	return "", nil, ErrNoPreview
}
