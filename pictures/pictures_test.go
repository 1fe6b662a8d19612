package pictures

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"path/filepath"
	"strings"
	"testing"
)

// photo is an opaque gradient of w×h pixels, encoded as JPEG.
func photo(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withExif inserts an APP1 Exif segment carrying text after the JPEG's SOI
// marker, as a camera would with its GPS position.
func withExif(jpg []byte, text string) []byte {
	payload := append([]byte("Exif\x00\x00"), text...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

func TestNormalizeStripsMetadataAndResizes(t *testing.T) {
	upload := withExif(photo(t, 1200, 600), "GPS 51.5007N 0.1246W")
	if _, _, err := image.Decode(bytes.NewReader(upload)); err != nil {
		t.Fatalf("test upload does not decode: %v", err)
	}
	data, contentType, ext, err := Normalize(bytes.NewReader(upload))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "image/jpeg" || ext != ".jpg" {
		t.Errorf("got %s %s, want image/jpeg .jpg", contentType, ext)
	}
	if bytes.Contains(data, []byte("GPS")) || bytes.Contains(data, []byte("Exif")) {
		t.Error("the stored picture still carries the upload's metadata")
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != MaxSide || cfg.Height != MaxSide/2 {
		t.Errorf("stored %dx%d, want %dx%d", cfg.Width, cfg.Height, MaxSide, MaxSide/2)
	}
}

func TestNormalizeKeepsTransparencyAndSmallSizes(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	img.Set(1, 1, color.NRGBA{255, 0, 0, 255}) // the rest is transparent
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	data, contentType, ext, err := Normalize(&b)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "image/png" || ext != ".png" {
		t.Fatalf("got %s %s, want image/png .png for a transparent image", contentType, ext)
	}
	out, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Bounds(); got.Dx() != 40 || got.Dy() != 30 {
		t.Errorf("a small picture was resized to %v", got)
	}
	if _, _, _, a := out.At(5, 5).RGBA(); a != 0 {
		t.Errorf("transparent pixel has alpha %d", a)
	}
}

func TestNormalizeWebP(t *testing.T) {
	// A 1×1 transparent lossless WebP.
	webp := []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")
	_, contentType, _, err := Normalize(bytes.NewReader(webp))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "image/png" {
		t.Errorf("WebP with alpha stored as %s", contentType)
	}
}

func TestNormalizeRefuses(t *testing.T) {
	// A PNG header that declares 100000×100000 pixels: decoding it would
	// need 40 GB.
	var bomb bytes.Buffer
	bomb.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	binary.Write(&bomb, binary.BigEndian, uint32(len(ihdr)))
	bomb.WriteString("IHDR")
	bomb.Write(ihdr)
	binary.Write(&bomb, binary.BigEndian, crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr...)))

	for _, tc := range []struct {
		name   string
		upload []byte
		want   error
	}{
		{"text", []byte("<svg onload=alert(1)>"), ErrUnsupported},
		{"svg", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), ErrUnsupported},
		{"empty", nil, ErrUnsupported},
		{"truncated jpeg", photo(t, 64, 64)[:200], ErrUnsupported},
		{"over 5 MB", append(photo(t, 8, 8), make([]byte, MaxUpload)...), ErrTooLarge},
		{"decompression bomb", bomb.Bytes(), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := Normalize(bytes.NewReader(tc.upload))
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestStoreRoundTrip(t *testing.T) {
	for _, url := range []string{"mem://", "file://" + filepath.ToSlash(t.TempDir()) + "?create_dir=true"} {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			key, err := s.Put(ctx, bytes.NewReader(photo(t, 100, 100)))
			if err != nil {
				t.Fatal(err)
			}
			if !ValidKey(key) {
				t.Fatalf("Put returned key %q that ValidKey refuses", key)
			}
			other, err := s.Put(ctx, bytes.NewReader(photo(t, 100, 100)))
			if err != nil {
				t.Fatal(err)
			}
			if other == key {
				t.Fatal("two uploads share a key")
			}
			p, err := s.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if p.ContentType != "image/jpeg" || len(p.Data) == 0 {
				t.Fatalf("got %q with %d bytes", p.ContentType, len(p.Data))
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, key); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after delete: %v, want ErrNotFound", err)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatalf("deleting twice: %v", err)
			}
		})
	}
}

func TestValidKeyRefusesPaths(t *testing.T) {
	for _, key := range []string{"", "../etc/passwd", "0123456789abcdef0123456789abcdef.svg",
		"0123456789ABCDEF0123456789ABCDEF.jpg", "0123456789abcdef0123456789abcdef.jpg/../x",
		"sub/0123456789abcdef0123456789abcdef.jpg"} {
		if ValidKey(key) {
			t.Errorf("ValidKey(%q) = true", key)
		}
	}
}
