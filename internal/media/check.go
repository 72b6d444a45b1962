// SPDX-License-Identifier: AGPL-3.0-or-later

package media

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"strings"
)

// Class is a family of media lifeline keeps, each with its own size limit.
type Class string

// Classes.
const (
	ClassImage    Class = "image"
	ClassAudio    Class = "audio"
	ClassVideo    Class = "video"
	ClassDocument Class = "document" // PDF
)

// Limits (SECURITY.md §2.13).
const (
	MaxImageBytes    = 10 << 20
	MaxImagePixels   = 40_000_000
	MaxAudioBytes    = 16 << 20
	MaxVideoBytes    = 64 << 20
	MaxDocumentBytes = 16 << 20
	// MaxBytes is the most any file may be: what a fetch of a file of
	// unknown type reads at most.
	MaxBytes = MaxVideoBytes
)

// MaxSize is the size limit of a class.
func MaxSize(c Class) int64 {
	switch c {
	case ClassImage:
		return MaxImageBytes
	case ClassAudio:
		return MaxAudioBytes
	case ClassVideo:
		return MaxVideoBytes
	case ClassDocument:
		return MaxDocumentBytes
	}
	return 0
}

// Reasons a file is rejected: short fixed phrases, for the operator.
const (
	ReasonEmpty     = "empty file"
	ReasonType      = "type not allowed"
	ReasonMismatch  = "content does not match its type"
	ReasonMalformed = "malformed or truncated file"
	ReasonTooLarge  = "too large"
	ReasonPixels    = "image dimensions too large"

	// The provider would not give the file, or could not be reached.
	ReasonUnavailable        = "unavailable at the provider"
	ReasonUnreachable        = "gave up: provider unreachable"
	ReasonChannelCannotFetch = "channel cannot fetch media"
)

// A Verdict is what Check found.
type Verdict struct {
	MIME   string // what the bytes are, when accepted
	Class  Class
	Reason string // non-empty: rejected, and why
}

// Check decides from its bytes alone (magic numbers and structure, never
// the name or the provider's claimed type) whether a file is one lifeline
// keeps: JPEG, PNG, GIF or WebP images of at most MaxImageBytes and
// MaxImagePixels; OGG, MP3, AAC, M4A or AMR audio; MP4, 3GP, QuickTime or
// WebM video; PDF. Everything else (archives, executables, scripts, HTML,
// unknown) is rejected: nothing is ever extracted or executed. Images are
// measured with DecodeConfig, which reads the header only: no pixel is
// decoded here, so a decompression bomb is refused by its dimensions.
func Check(data []byte) Verdict {
	if len(data) == 0 {
		return Verdict{Reason: ReasonEmpty}
	}
	v := sniff(data)
	if v.Reason != "" {
		return v
	}
	// A second opinion: the standard sniffer must not see something else
	// (HTML, a script, an archive) in what the magic numbers call media.
	if !agree(http.DetectContentType(data), v) {
		return Verdict{Reason: ReasonMismatch}
	}
	if int64(len(data)) > MaxSize(v.Class) {
		return Verdict{Reason: ReasonTooLarge}
	}
	if v.Class == ClassImage {
		if r := checkImage(v.MIME, data); r != "" {
			return Verdict{Reason: r}
		}
	}
	return v
}

// sniff names the type by magic number and checks the file's outer
// structure (complete, not truncated).
func sniff(b []byte) Verdict {
	ok := func(mime string, c Class) Verdict { return Verdict{MIME: mime, Class: c} }
	bad := func(r string) Verdict { return Verdict{Reason: r} }
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		if !jpegComplete(b) {
			return bad(ReasonMalformed)
		}
		return ok("image/jpeg", ClassImage)
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		if !pngComplete(b) {
			return bad(ReasonMalformed)
		}
		return ok("image/png", ClassImage)
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		if b[len(b)-1] != 0x3B { // the trailer
			return bad(ReasonMalformed)
		}
		return ok("image/gif", ClassImage)
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		if !riffComplete(b) {
			return bad(ReasonMalformed)
		}
		return ok("image/webp", ClassImage)
	case bytes.HasPrefix(b, []byte("%PDF-")):
		// The last %%EOF is within the last KiB of a complete PDF.
		if !bytes.Contains(b[max(0, len(b)-1024):], []byte("%%EOF")) {
			return bad(ReasonMalformed)
		}
		return ok("application/pdf", ClassDocument)
	case bytes.HasPrefix(b, []byte("OggS")):
		return ok("audio/ogg", ClassAudio)
	case bytes.HasPrefix(b, []byte("#!AMR\n")), bytes.HasPrefix(b, []byte("#!AMR-WB\n")):
		return ok("audio/amr", ClassAudio)
	case bytes.HasPrefix(b, []byte("ID3")):
		return ok("audio/mpeg", ClassAudio)
	case len(b) >= 4 && b[0] == 0xFF && b[1]&0xF6 == 0xF0: // ADTS: sync, layer 0
		return ok("audio/aac", ClassAudio)
	case len(b) >= 4 && b[0] == 0xFF && b[1]&0xE0 == 0xE0 && b[1]&0x06 != 0 && b[2]&0xF0 != 0xF0: // an MPEG audio frame
		return ok("audio/mpeg", ClassAudio)
	case bytes.HasPrefix(b, []byte{0x1A, 0x45, 0xDF, 0xA3}): // EBML
		// Matroska is a superset lifeline does not take; WebM names
		// itself in the EBML header's DocType.
		if !bytes.Contains(b[:min(len(b), 64)], []byte{0x42, 0x82, 0x84, 'w', 'e', 'b', 'm'}) {
			return bad(ReasonType)
		}
		return ok("video/webm", ClassVideo)
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		mime, c := isoBrand(string(b[8:12]))
		if mime == "" {
			return bad(ReasonType) // HEIC, AVIF, CR3, ...
		}
		if !isoComplete(b) {
			return bad(ReasonMalformed)
		}
		return ok(mime, c)
	}
	return bad(ReasonType)
}

// isoBrand maps the major brand of an ISO base media file to its type.
func isoBrand(brand string) (string, Class) {
	switch {
	case brand == "M4A " || brand == "M4B ":
		return "audio/mp4", ClassAudio
	case strings.HasPrefix(brand, "3gp") || strings.HasPrefix(brand, "3g2"):
		return "video/3gpp", ClassVideo
	case brand == "qt  ":
		return "video/quicktime", ClassVideo
	}
	switch brand {
	case "isom", "iso2", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "M4V ", "MSNV", "dash", "mp4v":
		return "video/mp4", ClassVideo
	}
	return "", ""
}

// agree reports whether http.DetectContentType's answer fits the type the
// magic numbers gave.
func agree(detected string, v Verdict) bool {
	c := v.Class
	detected, _, _ = strings.Cut(detected, ";")
	switch detected {
	case "text/plain":
		// An AMR file of silence (NO_DATA frames) has no byte the
		// standard sniffer deems binary.
		return v.MIME == "audio/amr"
	case "application/octet-stream":
		return true // it knows fewer types than Check
	case "application/pdf":
		return c == ClassDocument
	case "application/ogg":
		return c == ClassAudio
	}
	top, _, _ := strings.Cut(detected, "/")
	switch top {
	case "image":
		return c == ClassImage
	case "audio", "video":
		return c == ClassAudio || c == ClassVideo
	}
	return false
}

// checkImage reads an image's header for its dimensions, before anything
// would decode it.
func checkImage(mime string, b []byte) string {
	var cfg image.Config
	var err error
	switch mime {
	case "image/jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(b))
	case "image/png":
		cfg, err = png.DecodeConfig(bytes.NewReader(b))
	case "image/gif":
		cfg, err = gif.DecodeConfig(bytes.NewReader(b))
	case "image/webp":
		cfg, err = webpConfig(b)
	default:
		return ReasonType
	}
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return ReasonMalformed
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return ReasonPixels
	}
	return ""
}

// jpegComplete walks a JPEG's segments to its end-of-image marker: a
// truncated file has none. (An EXIF thumbnail has its own EOI inside an
// APP1 segment, which the walk steps over.)
func jpegComplete(b []byte) bool {
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return false
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0xD9:
			return true
		case m >= 0xD0 && m <= 0xD7, m == 0x01:
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return false
		}
		i += 2 + n
		if m != 0xDA {
			continue
		}
		// Entropy-coded data: a marker is 0xFF followed by neither 0x00
		// (a stuffed byte) nor a restart marker.
		for {
			if i+1 >= len(b) {
				return false
			}
			if b[i] == 0xFF && b[i+1] != 0x00 && (b[i+1] < 0xD0 || b[i+1] > 0xD7) {
				break
			}
			i++
		}
	}
	// The last two bytes may be the end-of-image marker alone.
	return i+2 <= len(b) && b[i] == 0xFF && b[i+1] == 0xD9
}

// pngComplete walks a PNG's chunks, checking each CRC, to IEND.
func pngComplete(b []byte) bool {
	i := 8
	for i+12 <= len(b) {
		n := int64(binary.BigEndian.Uint32(b[i:]))
		if n > int64(len(b)-i-12) {
			return false
		}
		end := i + 8 + int(n)
		if crc32.ChecksumIEEE(b[i+4:end]) != binary.BigEndian.Uint32(b[end:]) {
			return false
		}
		if string(b[i+4:i+8]) == "IEND" {
			return true
		}
		i = end + 4
	}
	return false
}

// riffComplete checks that a RIFF file holds the whole of the size its
// header announces.
func riffComplete(b []byte) bool {
	n := int64(binary.LittleEndian.Uint32(b[4:]))
	return n >= 4 && n+8 <= int64(len(b))
}

// isoComplete walks an ISO base media file's top-level boxes: they must
// fill the file exactly (a truncated download ends inside one).
func isoComplete(b []byte) bool {
	i := int64(0)
	total := int64(len(b))
	for i < total {
		if total-i < 8 {
			return false
		}
		size := int64(binary.BigEndian.Uint32(b[i:]))
		head := int64(8)
		switch size {
		case 0: // to the end of the file
			return true
		case 1:
			if total-i < 16 {
				return false
			}
			s := binary.BigEndian.Uint64(b[i+8:])
			if s > uint64(total) {
				return false
			}
			size, head = int64(s), 16
		}
		if size < head || size > total-i {
			return false
		}
		i += size
	}
	return true
}

// errWebP is a WebP header Check cannot measure.
type errWebP struct{}

func (errWebP) Error() string { return "webp: unknown header" }

// webpConfig reads a WebP's canvas size from its first chunk (VP8X, VP8 or
// VP8L), without decoding anything.
func webpConfig(b []byte) (image.Config, error) {
	if len(b) < 30 {
		return image.Config{}, errWebP{}
	}
	le24 := func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 }
	d := b[20:]
	switch string(b[12:16]) {
	case "VP8X":
		return image.Config{Width: le24(d[4:]) + 1, Height: le24(d[7:]) + 1}, nil
	case "VP8 ":
		if d[3] != 0x9D || d[4] != 0x01 || d[5] != 0x2A {
			return image.Config{}, errWebP{}
		}
		w := int(binary.LittleEndian.Uint16(d[6:])) & 0x3FFF
		h := int(binary.LittleEndian.Uint16(d[8:])) & 0x3FFF
		return image.Config{Width: w, Height: h}, nil
	case "VP8L":
		if d[0] != 0x2F {
			return image.Config{}, errWebP{}
		}
		bits := binary.LittleEndian.Uint32(d[1:])
		return image.Config{Width: int(bits&0x3FFF) + 1, Height: int(bits>>14&0x3FFF) + 1}, nil
	}
	return image.Config{}, errWebP{}
}
