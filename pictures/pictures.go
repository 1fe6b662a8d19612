// Package pictures keeps users' profile pictures. An upload is decoded,
// checked, resized and encoded again before it is stored, so what is served
// back is always an image Tollgate made itself: no EXIF or GPS metadata, no
// polyglot files, nothing larger than MaxSide pixels a side.
//
// Pictures live in a gocloud.dev/blob bucket: a directory by default
// (file:///path), S3 or any S3-compatible store (s3://bucket?region=…,
// which also reaches Google Cloud Storage through its interoperability
// endpoint), or memory (mem://, for tests).
package pictures

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// buckets, the embedded default
	_ "gocloud.dev/blob/memblob"  // mem:// buckets
	_ "gocloud.dev/blob/s3blob"   // s3:// buckets
	"gocloud.dev/gcerrors"
	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers the WebP decoder with image.Decode
)

const (
	// MaxUpload is the largest upload accepted, in bytes.
	MaxUpload = 5 << 20
	// MaxSide is the longest side of a stored picture, in pixels.
	MaxSide = 512
	// maxPixels bounds what is decoded at all: a small file can declare
	// an enormous canvas (a decompression bomb).
	maxPixels   = 50_000_000
	jpegQuality = 85
)

var (
	// ErrTooLarge: the upload is over MaxUpload bytes or maxPixels pixels.
	ErrTooLarge = errors.New("pictures: image too large")
	// ErrUnsupported: the upload is not a JPEG, PNG or WebP image.
	ErrUnsupported = errors.New("pictures: not a JPEG, PNG or WebP image")
	// ErrNotFound: no picture under that key.
	ErrNotFound = errors.New("pictures: not found")
)

// Store keeps pictures in a bucket.
type Store struct {
	bucket *blob.Bucket
}

// Open opens the bucket at url (file:///dir, s3://bucket?…, mem://).
func Open(ctx context.Context, url string) (*Store, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open picture bucket %q: %w", redact(url), err)
	}
	return &Store{bucket: b}, nil
}

// Close releases the bucket.
func (s *Store) Close() error { return s.bucket.Close() }

// Picture is a stored image.
type Picture struct {
	Key         string // the name to serve it under, e.g. 3f…9a.jpg
	ContentType string
	Data        []byte
}

// Put normalizes an upload and stores it under a new random key, so that
// caches never serve an old picture under a new address.
func (s *Store) Put(ctx context.Context, upload io.Reader) (string, error) {
	data, contentType, ext, err := Normalize(upload)
	if err != nil {
		return "", err
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("picture key: %w", err)
	}
	key := hex.EncodeToString(id[:]) + ext
	err = s.bucket.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return "", fmt.Errorf("store picture: %w", err)
	}
	return key, nil
}

// Get reads a stored picture.
func (s *Store) Get(ctx context.Context, key string) (Picture, error) {
	if !ValidKey(key) {
		return Picture{}, ErrNotFound
	}
	data, err := s.bucket.ReadAll(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return Picture{}, ErrNotFound
	}
	if err != nil {
		return Picture{}, fmt.Errorf("read picture: %w", err)
	}
	return Picture{Key: key, ContentType: contentTypeOf(key), Data: data}, nil
}

// Delete removes a picture; removing one that is gone is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !ValidKey(key) {
		return nil
	}
	err := s.bucket.Delete(ctx, key)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("delete picture: %w", err)
	}
	return nil
}

// ValidKey reports whether key has the shape Put gives keys, so that no
// path a client sends can name another object in the bucket.
func ValidKey(key string) bool {
	name, ext, ok := strings.Cut(key, ".")
	if !ok || (ext != "jpg" && ext != "png") || len(name) != 32 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil && strings.ToLower(name) == name
}

// Normalize decodes a JPEG, PNG or WebP upload, scales it to fit MaxSide and
// encodes it again: JPEG when it is opaque, PNG when it has transparency.
// It returns the bytes, their content type and the file extension.
func Normalize(upload io.Reader) (data []byte, contentType, ext string, err error) {
	raw, err := io.ReadAll(io.LimitReader(upload, MaxUpload+1))
	if err != nil {
		return nil, "", "", fmt.Errorf("read upload: %w", err)
	}
	if len(raw) > MaxUpload {
		return nil, "", "", ErrTooLarge
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil || (format != "jpeg" && format != "png" && format != "webp") {
		return nil, "", "", ErrUnsupported
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, "", "", ErrUnsupported
	}
	if cfg.Width*cfg.Height > maxPixels {
		return nil, "", "", ErrTooLarge
	}
	src, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, "", "", ErrUnsupported
	}
	img := fit(src, MaxSide)
	var out bytes.Buffer
	if img.Opaque() {
		err = jpeg.Encode(&out, img, &jpeg.Options{Quality: jpegQuality})
		contentType, ext = "image/jpeg", ".jpg"
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, img)
		contentType, ext = "image/png", ".png"
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("encode picture: %w", err)
	}
	return out.Bytes(), contentType, ext, nil
}

// fit scales src down so that neither side exceeds side, keeping its
// proportions; it always draws into a fresh RGBA image, which drops
// whatever the decoder carried along.
func fit(src image.Image, side int) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > side || h > side {
		if w >= h {
			w, h = side, max(1, h*side/w)
		} else {
			w, h = max(1, w*side/h), side
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	return dst
}

func contentTypeOf(key string) string {
	if strings.HasSuffix(key, ".png") {
		return "image/png"
	}
	return "image/jpeg"
}

// redact hides the query of a bucket URL, where credentials may sit.
func redact(url string) string {
	if i := strings.IndexByte(url, '?'); i >= 0 {
		return url[:i] + "?…"
	}
	return url
}
