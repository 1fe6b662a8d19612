package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/server/account"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// picturesBackends runs fn on SQLite and on PostgreSQL + Redis, with
// pictures kept in a directory of their own, which fn gets.
func picturesBackends(t *testing.T, fn func(t *testing.T, e *env, dir string)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) storage.Store
	}{
		{"sqlite", testbackend.SQLite},
		{"postgres+redis", testbackend.PostgresRedis},
	} {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			u := url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}
			e := newEnvWith(t, b.name, b.open(t), keyring.RS256, func(c *server.Config) { c.PicturesURL = u.String() })
			fn(t, e, dir)
		})
	}
}

// photoWithGPS is a 1200×800 JPEG carrying an EXIF APP1 segment with a
// GPS position, as a phone camera writes one.
func photoWithGPS(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1200, 800))
	for y := range 800 {
		for x := range 1200 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	// A little-endian TIFF with one IFD entry, GPSInfo (0x8825), and the
	// coordinates as text a reader would notice.
	tiff := []byte("II*\x00\x08\x00\x00\x00\x01\x00\x25\x88\x04\x00\x01\x00\x00\x00\x1a\x00\x00\x00\x00\x00\x00\x00")
	tiff = append(tiff, []byte("GPS 51.5007N 0.1246W")...)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	raw := out.Bytes()
	photo := append(append(append([]byte{}, raw[:2]...), seg...), raw[2:]...)
	if _, _, err := image.Decode(bytes.NewReader(photo)); err != nil {
		t.Fatalf("the test photo does not decode: %v", err)
	}
	if !bytes.Contains(photo, []byte("Exif\x00\x00")) {
		t.Fatal("the test photo has no EXIF")
	}
	return photo
}

// transparentPNG is a small PNG with an alpha channel.
func transparentPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	img.Set(3, 3, color.NRGBA{255, 0, 0, 128})
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// multipartBody is a multipart/form-data body with a file field and
// plain fields.
func multipartBody(t *testing.T, field string, data []byte, fields map[string]string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	if field != "" {
		fw, err := mw.CreateFormFile(field, "me.jpg")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

// uploadPicture sends body with contentType to POST /api/account/picture.
func (e *env) uploadPicture(token, contentType string, body []byte) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+account.APIPrefix+"/picture", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// fetchPicture GETs a picture URL.
func fetchPicture(t *testing.T, u string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

// storedFiles lists the picture objects in dir (not fileblob's sidecars).
func storedFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && !strings.HasSuffix(e.Name(), ".attrs") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestPictureUploadThroughAPI: a phone photo with its GPS position,
// uploaded with a real access token, comes back through the picture claim
// as a small JPEG without any metadata; a new upload replaces it and
// deletes the old object; bad uploads are refused naming the field.
func TestPictureUploadThroughAPI(t *testing.T) {
	picturesBackends(t, func(t *testing.T, e *env, dir string) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		tok := e.signIn(cfg)
		at := tok.AccessToken

		ct, body := multipartBody(t, "picture", photoWithGPS(t), nil)
		status, profile := e.uploadPicture(at, ct, body)
		first, _ := profile["picture"].(string)
		if status != http.StatusOK || !strings.HasPrefix(first, e.issuer+"/pictures/") {
			t.Fatalf("upload: %d %v\n%s", status, profile, e.logs)
		}
		info, err := e.provider().UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			Picture string `json:"picture"`
		}
		if err := info.Claims(&claims); err != nil || claims.Picture != first {
			t.Fatalf("userinfo picture = %q (%v), want %q", claims.Picture, err, first)
		}
		status, hdr, served := fetchPicture(t, claims.Picture)
		if status != http.StatusOK || hdr.Get("Content-Type") != "image/jpeg" || hdr.Get("X-Content-Type-Options") != "nosniff" ||
			hdr.Get("Cache-Control") != "public, max-age=31536000, immutable" || !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("serving the picture: %d %v", status, hdr)
		}
		img, format, err := image.Decode(bytes.NewReader(served))
		if err != nil || format != "jpeg" {
			t.Fatalf("the served picture does not decode as JPEG: %v %s", err, format)
		}
		if b := img.Bounds(); b.Dx() != 512 || b.Dy() > 512 {
			t.Errorf("served picture is %dx%d, want 512 wide", b.Dx(), b.Dy())
		}
		if bytes.Contains(served, []byte("Exif")) || bytes.Contains(served, []byte("GPS")) || bytes.Contains(served, []byte{0xFF, 0xE1}) {
			t.Error("the served picture still carries EXIF")
		}
		if files := storedFiles(t, dir); len(files) != 1 {
			t.Fatalf("stored after one upload: %v", files)
		}

		// A raw PNG body replaces it: the old object is gone.
		status, profile = e.uploadPicture(at, "image/png", transparentPNG(t))
		second, _ := profile["picture"].(string)
		if status != http.StatusOK || second == first || !strings.HasSuffix(second, ".png") {
			t.Fatalf("replace: %d %v", status, profile)
		}
		if status, _, _ := fetchPicture(t, first); status != http.StatusNotFound {
			t.Errorf("the replaced picture is still served: %d", status)
		}
		if status, hdr, _ := fetchPicture(t, second); status != http.StatusOK || hdr.Get("Content-Type") != "image/png" {
			t.Errorf("the new picture: %d %v", status, hdr)
		}
		if files := storedFiles(t, dir); len(files) != 1 || !strings.HasSuffix(second, files[0]) {
			t.Fatalf("stored after replacing: %v, want only %s", files, second)
		}

		// Refused uploads change nothing.
		bomb := bombPNG(t)
		big := append(photoWithGPS(t), make([]byte, 5<<20)...)
		bigCT, bigBody := multipartBody(t, "picture", big, nil)
		noFieldCT, noFieldBody := multipartBody(t, "photo", transparentPNG(t), nil)
		for _, tc := range []struct {
			name, contentType string
			body              []byte
			status            int
		}{
			{"text as PNG", "image/png", []byte("<svg onload=alert(1)>"), http.StatusBadRequest},
			{"SVG", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), http.StatusBadRequest},
			{"GIF", "image/gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), http.StatusBadRequest},
			{"decompression bomb", "image/png", bomb, http.StatusBadRequest},
			{"no picture field", noFieldCT, noFieldBody, http.StatusBadRequest},
			{"JSON", "application/json", []byte(`{"picture":"x"}`), http.StatusBadRequest},
			{"broken multipart", "multipart/form-data; boundary=xyz", []byte("--xyz\r\nContent-Disposition: form-data; name=\"picture\"\r\n\r\nab"), http.StatusBadRequest},
			{"over 5 MB raw", "image/jpeg", big, http.StatusRequestEntityTooLarge},
			{"over 5 MB multipart", bigCT, bigBody, http.StatusRequestEntityTooLarge},
		} {
			status, body := e.uploadPicture(at, tc.contentType, tc.body)
			if status != tc.status || body["field"] != "picture" || body["error_description"] == "" {
				t.Errorf("%s: %d %v, want %d naming picture", tc.name, status, body, tc.status)
			}
		}
		if status, body, _ := e.accountCall(at, "GET", "/profile", nil); status != http.StatusOK || body["picture"] != second {
			t.Fatalf("a refused upload changed the picture: %v", body)
		}
		if files := storedFiles(t, dir); len(files) != 1 {
			t.Fatalf("a refused upload left objects: %v", files)
		}
		if status, _, _ := fetchPicture(t, e.issuer+"/pictures/0123456789abcdef0123456789abcdef.jpg"); status != http.StatusNotFound {
			t.Errorf("unknown key: %d", status)
		}
		if status, _, _ := fetchPicture(t, e.issuer+"/pictures/..%2ftollgate.db"); status != http.StatusNotFound {
			t.Errorf("a path as key: %d", status)
		}

		// The profile cannot point at another stored object (someone
		// else's picture, which replacing would then delete).
		if status, body, _ := e.accountCall(at, "PATCH", "/profile", map[string]any{"picture": e.issuer + "/pictures/0123456789abcdef0123456789abcdef.jpg"}); status != http.StatusBadRequest || body["field"] != "picture" {
			t.Fatalf("pointing at a stored object: %d %v", status, body)
		}
		// An external https URL is still allowed, and replaces (deletes)
		// the stored one.
		if status, body, _ := e.accountCall(at, "PATCH", "/profile", map[string]any{"picture": "https://cdn.example/ada.png"}); status != http.StatusOK || body["picture"] != "https://cdn.example/ada.png" {
			t.Fatalf("external picture: %d %v", status, body)
		}
		status, profile = e.uploadPicture(at, "image/png", transparentPNG(t))
		if status != http.StatusOK {
			t.Fatalf("upload after an external URL: %d %v", status, profile)
		}
		if files := storedFiles(t, dir); len(files) != 1 {
			t.Fatalf("objects after switching to an external URL and back: %v", files)
		}
		third := profile["picture"].(string)
		// DELETE removes it.
		status, body2, _ := e.accountCall(at, "DELETE", "/picture", nil)
		if status != http.StatusOK || body2["picture"] != "" {
			t.Fatalf("delete picture: %d %v", status, body2)
		}
		if status, _, _ := fetchPicture(t, third); status != http.StatusNotFound {
			t.Errorf("a removed picture is still served: %d", status)
		}
		if files := storedFiles(t, dir); len(files) != 0 {
			t.Errorf("objects left after removing the picture: %v", files)
		}
	})
}

// bombPNG is a tiny PNG that declares a 30000×30000 canvas.
func bombPNG(t *testing.T) []byte {
	t.Helper()
	small := transparentPNG(t)
	bomb := append([]byte{}, small...)
	// IHDR's width and height sit at bytes 16..24; the CRC after them is
	// left wrong, which DecodeConfig does not check.
	binary.BigEndian.PutUint32(bomb[16:], 30000)
	binary.BigEndian.PutUint32(bomb[20:], 30000)
	return bomb
}

// TestPictureUploadOnThePage: the account page uploads a picture with a
// multipart form and its CSRF token, removes it with a button, and
// deleting the account (page, admin API) removes the stored object.
func TestPictureUploadOnThePage(t *testing.T) {
	picturesBackends(t, func(t *testing.T, e *env, dir string) {
		ctx := context.Background()
		b, p := e.accountBrowser(testPassword)
		if !strings.Contains(p.body, `enctype="multipart/form-data"`) || !strings.Contains(p.body, "Upload picture") {
			t.Fatalf("the account page has no upload form:\n%s", p.body)
		}
		_, form := p.form(t, "name")
		csrf := form.Get("csrf_token")
		post := func(fields map[string]string, data []byte) page {
			ct, body := multipartBody(t, "picture", data, fields)
			resp, err := b.client.Post(e.issuer+"/account/picture", ct, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			return readPage(t, resp)
		}
		if got := post(nil, photoWithGPS(t)); got.status != http.StatusForbidden {
			t.Fatalf("upload without the CSRF token: %d", got.status)
		}
		if got := post(map[string]string{"csrf_token": csrf}, []byte("not an image")); got.status != http.StatusBadRequest ||
			!strings.Contains(got.body, "JPEG, PNG or WebP") || !strings.Contains(got.body, `id="picture-error"`) {
			t.Fatalf("upload of a text file: %d\n%s", got.status, got.body)
		}
		if got := post(map[string]string{"csrf_token": csrf}, make([]byte, 6<<20)); got.status != http.StatusRequestEntityTooLarge ||
			!strings.Contains(got.body, "at most 5 MB") {
			t.Fatalf("upload over 5 MB: %d\n%s", got.status, got.body)
		}
		if files := storedFiles(t, dir); len(files) != 0 {
			t.Fatalf("refused uploads left objects: %v", files)
		}
		got := post(map[string]string{"csrf_token": csrf}, photoWithGPS(t))
		if got.status != http.StatusOK || got.url.Path != "/account" || !strings.Contains(got.body, "Your picture is saved") {
			t.Fatalf("upload: %d at %s\n%s", got.status, got.url, got.body)
		}
		u, err := e.store.GetUser(ctx, e.user.ID)
		if err != nil || !strings.HasPrefix(u.Picture, e.issuer+"/pictures/") {
			t.Fatalf("stored picture: %q %v", u.Picture, err)
		}
		if !strings.Contains(got.body, `<img src="`+u.Picture+`"`) || !strings.Contains(got.body, "Remove picture") {
			t.Error("the page does not show the new picture URL and a remove button")
		}
		if status, _, _ := fetchPicture(t, u.Picture); status != http.StatusOK {
			t.Fatalf("serving the uploaded picture: %d", status)
		}
		// The profile form sends the picture URL back unchanged.
		if saved := b.submit(got, "name", map[string]string{"name": "Ada King"}); saved.status != http.StatusOK || !strings.Contains(saved.body, "Your profile is saved") {
			t.Fatalf("saving the profile with an uploaded picture: %d\n%s", saved.status, saved.body)
		}
		if again, _ := e.store.GetUser(ctx, e.user.ID); again.Picture != u.Picture || again.Name != "Ada King" {
			t.Fatalf("after saving the profile: %q %q", again.Name, again.Picture)
		}
		// Remove it.
		rm := b.post(e.issuer+"/account/picture/delete", url.Values{"csrf_token": {csrf}})
		if rm.status != http.StatusOK || !strings.Contains(rm.body, "Your picture is removed") {
			t.Fatalf("remove: %d\n%s", rm.status, rm.body)
		}
		if files := storedFiles(t, dir); len(files) != 0 {
			t.Fatalf("objects after removing: %v", files)
		}
		// Upload again, then delete the account: the object goes with it.
		if got := post(map[string]string{"csrf_token": csrf}, transparentPNG(t)); got.status != http.StatusOK {
			t.Fatalf("second upload: %d", got.status)
		}
		if files := storedFiles(t, dir); len(files) != 1 {
			t.Fatalf("objects after the second upload: %v", files)
		}
		del := b.get(e.issuer + "/account/delete")
		if done := b.submit(del, "password", map[string]string{"password": testPassword}); done.status != http.StatusOK {
			t.Fatalf("delete account: %d", done.status)
		}
		if _, err := e.store.GetUser(ctx, e.user.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("the user is still stored: %v", err)
		}
		if files := storedFiles(t, dir); len(files) != 0 {
			t.Errorf("the deleted account's picture is still stored: %v", files)
		}
	})
}

// TestPictureRemovedWithAdminDelete: DELETE /admin/v1/users/{id} removes
// the user's stored picture.
func TestPictureRemovedWithAdminDelete(t *testing.T) {
	picturesBackends(t, func(t *testing.T, e *env, dir string) {
		at := e.signIn(e.oauthConfig(confidentialID, confidentialKey)).AccessToken
		if status, body := e.uploadPicture(at, "image/png", transparentPNG(t)); status != http.StatusOK {
			t.Fatalf("upload: %d %v", status, body)
		}
		if files := storedFiles(t, dir); len(files) != 1 {
			t.Fatalf("objects after the upload: %v", files)
		}
		req, _ := http.NewRequest(http.MethodDelete, e.issuer+"/admin/v1/users/"+e.user.ID, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("admin delete: %d", resp.StatusCode)
		}
		if files := storedFiles(t, dir); len(files) != 0 {
			t.Errorf("the deleted user's picture is still stored: %v", files)
		}
	})
}

// TestAccountAPIEndAllSessions: DELETE /api/account/sessions signs every
// browser out; the calling app's token keeps working.
func TestAccountAPIEndAllSessions(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		at := e.signIn(cfg).AccessToken
		b, _ := e.accountBrowser(testPassword)
		if _, body, _ := e.accountCall(at, "GET", "/sessions", nil); len(body["items"].([]any)) != 2 {
			t.Fatalf("sessions before: %v", body)
		}
		if status, _, _ := e.accountCall(at, "DELETE", "/sessions", nil); status != http.StatusNoContent {
			t.Fatalf("end all sessions: %d", status)
		}
		if status, body, _ := e.accountCall(at, "GET", "/sessions", nil); status != http.StatusOK || len(body["items"].([]any)) != 0 {
			t.Fatalf("sessions after: %d %v", status, body)
		}
		if got := b.get(e.issuer + "/account"); got.url.Path != "/login" {
			t.Errorf("a browser is still signed in: %d at %s", got.status, got.url)
		}
		if status, _, _ := e.accountCall(at, "POST", "/password", map[string]any{"current_password": testPassword, "new_password": newPassword}); status/100 != 4 {
			t.Errorf("POST /password (now PUT): %d", status)
		}
	})
}
