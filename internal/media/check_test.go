// SPDX-License-Identifier: AGPL-3.0-or-later

package media_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/lifeline-hotline/lifeline/internal/media"
)

func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// pngHeader is a complete, well-formed PNG claiming w×h pixels: a
// decompression bomb if anything decoded it.
func pngHeader(w, h uint32) []byte {
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, pngChunk("IHDR", ihdr[:])...)
	b = append(b, pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(b, pngChunk("IEND", nil)...)
}

func encoded(t testing.TB, format string) []byte {
	img := image.NewPaletted(image.Rect(0, 0, 16, 9), color.Palette{color.Black, color.White})
	img.Set(3, 3, color.White)
	var b bytes.Buffer
	var err error
	switch format {
	case "jpeg":
		err = jpeg.Encode(&b, img, nil)
	case "png":
		err = png.Encode(&b, img)
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func webp(chunk string, payload []byte) []byte {
	body := append([]byte("WEBP"+chunk), binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))...)
	body = append(body, payload...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// vp8x is a WebP's extended header with a canvas of w×h.
func vp8x(w, h int) []byte {
	p := make([]byte, 10)
	p[4], p[5], p[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	p[7], p[8], p[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	return webp("VP8X", p)
}

func isoFile(brand string) []byte {
	ftyp := append(binary.BigEndian.AppendUint32(nil, 20), []byte("ftyp"+brand+"\x00\x00\x02\x00isom")...)
	mdat := append(binary.BigEndian.AppendUint32(nil, 16), []byte("mdat\x01\x02\x03\x04\x05\x06\x07\x08")...)
	return append(ftyp, mdat...)
}

func seeds(t testing.TB) map[string][]byte {
	jpg := encoded(t, "jpeg")
	return map[string][]byte{
		"jpeg":             jpg,
		"png":              encoded(t, "png"),
		"gif":              encoded(t, "gif"),
		"webp":             vp8x(640, 480),
		"webp-huge":        vp8x(16000, 16000),
		"webp-truncated":   vp8x(640, 480)[:25],
		"png-bomb":         pngHeader(50000, 50000),
		"png-bad-crc":      append(encoded(t, "png")[:20], 0, 0, 0, 0),
		"jpeg-truncated":   jpg[:len(jpg)-40],
		"jpeg-no-eoi":      jpg[:len(jpg)-2],
		"pdf":              []byte("%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"),
		"pdf-truncated":    []byte("%PDF-1.7\n1 0 obj<<>>endobj\n"),
		"ogg":              append([]byte("OggS\x00\x02"), make([]byte, 40)...),
		"amr":              []byte("#!AMR\n||||||||||||"),
		"mp3-id3":          append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), make([]byte, 32)...),
		"mp3-frame":        append([]byte{0xFF, 0xFB, 0x90, 0x64}, make([]byte, 60)...),
		"aac-adts":         append([]byte{0xFF, 0xF1, 0x50, 0x80}, make([]byte, 60)...),
		"mp4":              isoFile("isom"),
		"m4a":              isoFile("M4A "),
		"3gp":              isoFile("3gp5"),
		"mp4-truncated":    isoFile("mp42")[:30],
		"heic":             isoFile("heic"),
		"webm":             []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm\x42\x87\x81\x04"),
		"matroska":         []byte("\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska"),
		"exe":              append([]byte("MZ\x90\x00"), make([]byte, 60)...),
		"elf":              append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 60)...),
		"zip":              []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"),
		"script":           []byte("#!/bin/sh\nrm -rf /\n"),
		"html":             []byte("<!DOCTYPE html><script>alert(1)</script>"),
		"svg":              []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`),
		"utf16-text":       []byte("\xff\xfeh\x00e\x00l\x00l\x00o\x00"),
		"jpeg-magic-html":  append([]byte{0xFF, 0xD8, 0xFF, 0xD9}, []byte("<html>")...),
		"jpeg-header-only": {0xFF, 0xD8, 0xFF},
	}
}

func TestCheck(t *testing.T) {
	want := map[string]string{ // name → MIME, or "!"+reason
		"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
		"webp-huge": "!" + media.ReasonPixels, "webp-truncated": "!" + media.ReasonMalformed,
		"png-bomb": "!" + media.ReasonPixels, "png-bad-crc": "!" + media.ReasonMalformed,
		"jpeg-truncated": "!" + media.ReasonMalformed, "jpeg-no-eoi": "!" + media.ReasonMalformed,
		"pdf": "application/pdf", "pdf-truncated": "!" + media.ReasonMalformed,
		"ogg": "audio/ogg", "amr": "audio/amr", "mp3-id3": "audio/mpeg", "mp3-frame": "audio/mpeg", "aac-adts": "audio/aac",
		"mp4": "video/mp4", "m4a": "audio/mp4", "3gp": "video/3gpp", "mp4-truncated": "!" + media.ReasonMalformed,
		"heic": "!" + media.ReasonType, "webm": "video/webm", "matroska": "!" + media.ReasonType,
		"exe": "!" + media.ReasonType, "elf": "!" + media.ReasonType, "zip": "!" + media.ReasonType,
		"script": "!" + media.ReasonType, "html": "!" + media.ReasonType, "svg": "!" + media.ReasonType,
		"utf16-text": "!" + media.ReasonMismatch, "jpeg-magic-html": "!" + media.ReasonMalformed,
		"jpeg-header-only": "!" + media.ReasonMalformed,
	}
	for name, data := range seeds(t) {
		v := media.Check(data)
		got := v.MIME
		if v.Reason != "" {
			got = "!" + v.Reason
		}
		if w, ok := want[name]; !ok {
			t.Errorf("%s: no expectation", name)
		} else if got != w {
			t.Errorf("%s: Check = %q, want %q", name, got, w)
		}
	}
}

func TestCheckSizeLimits(t *testing.T) {
	big := func(seed []byte, n int) []byte {
		b := make([]byte, n)
		copy(b, seed)
		return b
	}
	jpg := encoded(t, "jpeg")
	// A JPEG padded past 10 MiB after its end-of-image marker.
	if v := media.Check(big(jpg, media.MaxImageBytes+1)); v.Reason != media.ReasonTooLarge {
		t.Errorf("11 MiB JPEG: %+v", v)
	}
	ogg := []byte("OggS\x00\x02")
	if v := media.Check(big(ogg, media.MaxAudioBytes)); v.Reason != "" {
		t.Errorf("16 MiB OGG: %+v", v)
	}
	if v := media.Check(big(ogg, media.MaxAudioBytes+1)); v.Reason != media.ReasonTooLarge {
		t.Errorf("16 MiB+1 OGG: %+v", v)
	}
}

// FuzzCheck: no input panics, and nothing accepted breaks a limit.
func FuzzCheck(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v := media.Check(data)
		if (v.Reason == "") == (v.MIME == "") {
			t.Fatalf("verdict %+v: exactly one of MIME and Reason", v)
		}
		if v.Reason != "" {
			return
		}
		if int64(len(data)) > media.MaxSize(v.Class) {
			t.Fatalf("accepted %d bytes of %s", len(data), v.Class)
		}
		if v.Class == media.ClassImage && v.MIME != "image/webp" {
			cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
			if err != nil || int64(cfg.Width)*int64(cfg.Height) > media.MaxImagePixels {
				t.Fatalf("accepted %s: %v, %dx%d", v.MIME, err, cfg.Width, cfg.Height)
			}
		}
	})
}
