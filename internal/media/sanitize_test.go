// SPDX-License-Identifier: AGPL-3.0-or-later

package media

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// TestPreviewDrawsImagesAfresh: a JPEG carrying an EXIF segment with an
// invented GPS position comes out as a PNG of the same picture without a
// byte of the metadata; documents get no preview; audio passes as it is.
func TestPreviewDrawsImagesAfresh(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := 6; y < 16; y++ { // a red band, wide enough for JPEG's chroma
			img.Set(x, y, color.RGBA{200, 30, 30, 255})
		}
	}
	var j bytes.Buffer
	if err := jpeg.Encode(&j, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	const secret = "GPS 48.0000N 37.0000E invented-camera-serial-4242"
	app1 := append([]byte{0xFF, 0xE1, 0, byte(2 + len("Exif\x00\x00"+secret))}, []byte("Exif\x00\x00"+secret)...)
	withExif := append(append(append([]byte{}, j.Bytes()[:2]...), app1...), j.Bytes()[2:]...)

	mime, out, err := Preview("image/jpeg", withExif)
	if err != nil || mime != "image/png" {
		t.Fatalf("Preview: %q, %v", mime, err)
	}
	if bytes.Contains(out, []byte("invented-camera")) || bytes.Contains(out, []byte("GPS")) {
		t.Error("the preview carries the original's metadata")
	}
	got, err := png.Decode(bytes.NewReader(out))
	if err != nil || got.Bounds() != img.Bounds() {
		t.Fatalf("preview: %v, bounds %v", err, got.Bounds())
	}
	if r, _, _, _ := got.At(5, 10).RGBA(); r>>8 < 150 {
		t.Errorf("the picture changed: pixel %v", got.At(5, 10))
	}
	if _, _, err := Preview("application/pdf", []byte("%PDF-1.7 ... %%EOF")); !errors.Is(err, ErrNoPreview) {
		t.Errorf("PDF: %v, want ErrNoPreview", err)
	}
	if _, _, err := Preview("image/png", []byte("\x89PNG\r\n\x1a\nbroken")); err == nil {
		t.Error("a broken PNG got a preview")
	}
	if m, b, err := Preview("audio/ogg", []byte("OggS voice")); err != nil || m != "audio/ogg" || string(b) != "OggS voice" {
		t.Errorf("audio: %q %q %v", m, b, err)
	}
}
