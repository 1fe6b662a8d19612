package account

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/pictures"
	"github.com/tollgate/tollgate/server/httpjson"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/templates"
)

// PicturesPath is where stored pictures are served below the issuer.
const PicturesPath = pictures.Path

// multipartSlack is what a multipart body may add to the image around it
// (boundaries, part headers).
const multipartSlack = 64 << 10

// errNoPictures: no picture store is configured.
var errNoPictures = errors.New("picture uploads are not set up")

// setPicture stores an upload as the user's picture: the new object is
// written first, then the user points at it, then the old object (if it
// was one of ours) goes. A failure on the way leaves the profile as it was
// and removes what was written.
func (h *Handler) setPicture(ctx context.Context, userID string, upload io.Reader) (storage.User, error) {
	if h.Pictures == nil {
		return storage.User{}, errNoPictures
	}
	key, err := h.Pictures.Put(ctx, upload)
	if err != nil {
		return storage.User{}, err
	}
	var old string
	var out storage.User
	err = h.Store.UpdateUser(ctx, userID, func(u storage.User) (storage.User, error) {
		old = u.Picture
		u.Picture, u.UpdatedAt = pictures.URL(h.Issuer, key), h.now().Truncate(time.Second)
		out = u
		return u, nil
	})
	if err != nil {
		if derr := h.Pictures.Delete(context.WithoutCancel(ctx), key); derr != nil {
			h.Logger.WarnContext(ctx, "account: remove an unused picture", "err", derr)
		}
		return storage.User{}, err
	}
	h.forgetPicture(ctx, old)
	h.Logger.InfoContext(ctx, "account: picture uploaded", "user_id", userID)
	return out, nil
}

// checkStoredPicture refuses a profile change that points the picture at
// an object of the store other than the user's own: only an upload may,
// or deleting that object later would delete another user's picture.
func (h *Handler) checkStoredPicture(current, next string) error {
	if next == current {
		return nil
	}
	if _, ours := pictures.KeyOf(h.Issuer, next); ours {
		return &FieldError{"picture", "To use a picture stored here, upload it."}
	}
	return nil
}

// removePicture clears the user's picture, deleting the stored object
// once the profile no longer points at it.
func (h *Handler) removePicture(ctx context.Context, userID string) (storage.User, error) {
	var old string
	var out storage.User
	err := h.Store.UpdateUser(ctx, userID, func(u storage.User) (storage.User, error) {
		old = u.Picture
		if u.Picture != "" {
			u.Picture, u.UpdatedAt = "", h.now().Truncate(time.Second)
		}
		out = u
		return u, nil
	})
	if err != nil {
		return storage.User{}, err
	}
	h.forgetPicture(ctx, old)
	return out, nil
}

// forgetPicture deletes a stored picture nobody points at any more. A
// failure leaves an orphan object, not a broken profile: it is logged.
func (h *Handler) forgetPicture(ctx context.Context, pictureURL string) {
	if err := h.Pictures.DeleteURL(context.WithoutCancel(ctx), h.Issuer, pictureURL); err != nil {
		h.Logger.WarnContext(ctx, "account: delete an old picture", "err", err)
	}
}

// pictureUpload returns the image of a request: the multipart field
// picture, or a raw body with an image content type.
func pictureUpload(w http.ResponseWriter, r *http.Request) (io.Reader, func(), error) {
	r.Body = http.MaxBytesReader(w, r.Body, pictures.MaxUpload+multipartSlack)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mediaType == "multipart/form-data":
		if err := parseMultipart(r); err != nil {
			return nil, nil, err
		}
		f, _, err := r.FormFile("picture")
		if err != nil {
			_ = r.MultipartForm.RemoveAll()
			return nil, nil, errMissingPicture
		}
		return f, func() { f.Close(); _ = r.MultipartForm.RemoveAll() }, nil
	case strings.HasPrefix(mediaType, "image/"):
		return r.Body, func() {}, nil
	}
	return nil, nil, errNotAnImage
}

// parseMultipart reads a multipart body within the cap; an error is the
// body's fault: a *http.MaxBytesError, or errBadMultipart.
func parseMultipart(r *http.Request) error {
	err := r.ParseMultipartForm(pictures.MaxUpload + multipartSlack)
	var tooLarge *http.MaxBytesError
	if err != nil && !errors.As(err, &tooLarge) {
		return fmt.Errorf("%w: %w", errBadMultipart, err)
	}
	return err
}

var (
	errBadMultipart   = errors.New("malformed multipart body")
	errMissingPicture = errors.New("no picture field")
	errNotAnImage     = errors.New("the body is neither multipart/form-data nor an image")
)

// uploadProblem maps an upload error to a status and words for people;
// ok is false for errors that are not the upload's fault (and for nil).
func uploadProblem(err error) (status int, message string, ok bool) {
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return 0, "", false
	case errors.Is(err, errPixels):
		return http.StatusBadRequest, "The picture has too many pixels.", true
	case errors.As(err, &tooLarge), errors.Is(err, pictures.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("The picture must be at most %d MB.", pictures.MaxUpload>>20), true
	case errors.Is(err, pictures.ErrUnsupported):
		return http.StatusBadRequest, "The picture must be a JPEG, PNG or WebP image.", true
	case errors.Is(err, errMissingPicture):
		return http.StatusBadRequest, "Choose a picture to upload (form field picture).", true
	case errors.Is(err, errNotAnImage):
		return http.StatusBadRequest, "Send the picture as multipart/form-data (field picture) or as the body with an image/* content type.", true
	case errors.Is(err, errBadMultipart):
		return http.StatusBadRequest, "The multipart body is malformed.", true
	}
	return 0, "", false
}

// errPixels marks pictures.ErrTooLarge for an upload within the byte cap:
// a canvas too large to decode (a decompression bomb), which is a bad
// request rather than a body too large.
var errPixels = errors.New("too many pixels")

// countingReader counts what the normalizer read, to tell a byte cap
// from a pixel cap.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// storeUpload stores the upload of r as the user's picture.
func (h *Handler) storeUpload(w http.ResponseWriter, r *http.Request, userID string) (storage.User, error) {
	upload, done, err := pictureUpload(w, r)
	if err != nil {
		return storage.User{}, err
	}
	defer done()
	counted := &countingReader{r: upload}
	u, err := h.setPicture(r.Context(), userID, counted)
	if errors.Is(err, pictures.ErrTooLarge) && counted.n <= pictures.MaxUpload {
		err = fmt.Errorf("%w: %w", errPixels, err)
	}
	return u, err
}

func (h *Handler) apiUploadPicture(w http.ResponseWriter, r *http.Request) {
	u, err := h.storeUpload(w, r, callerOf(r.Context()).user.ID)
	if status, message, ok := uploadProblem(err); ok {
		httpjson.Write(w, status, apiError{Error: "invalid_request", Description: message, Field: "picture"})
		return
	}
	switch {
	case errors.Is(err, errNoPictures):
		httpjson.Write(w, http.StatusNotFound, apiError{Error: "not_found", Description: "Picture uploads are not set up here."})
	case errors.Is(err, storage.ErrNotFound):
		h.invalidToken(w, r, "The user of this access token no longer exists.")
	case err != nil:
		h.unavailable(w, r, err)
	default:
		httpjson.Write(w, http.StatusOK, viewProfile(u))
	}
}

func (h *Handler) apiDeletePicture(w http.ResponseWriter, r *http.Request) {
	u, err := h.removePicture(r.Context(), callerOf(r.Context()).user.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		h.invalidToken(w, r, "The user of this access token no longer exists.")
	case err != nil:
		h.unavailable(w, r, err)
	default:
		httpjson.Write(w, http.StatusOK, viewProfile(u))
	}
}

// submitPicture is the page's upload form (multipart, with the CSRF token
// as a field of the form).
func (h *Handler) submitPicture(w http.ResponseWriter, r *http.Request) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "multipart/form-data" {
		h.errorPage(w, http.StatusBadRequest, "invalid_request", "Upload the picture with the form on your account page.")
		return
	}
	// The CSRF check reads the form: parse it within the cap first.
	r.Body = http.MaxBytesReader(w, r.Body, pictures.MaxUpload+multipartSlack)
	if err := parseMultipart(r); err != nil {
		status, message, _ := uploadProblem(err)
		h.pictureRefused(w, r, status, message)
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	sess, u, ok := h.form(w, r)
	if !ok {
		return
	}
	_, err := h.storeUpload(w, r, u.ID)
	if status, message, ok := uploadProblem(err); ok {
		h.renderAccount(w, r, status, sess, u, pictureError(message))
		return
	}
	if err != nil {
		h.unavailablePage(w, r, err)
		return
	}
	h.saved(w, r, "picture")
}

// pictureRefused renders the page with an upload refused before the form
// could be read (so before the session is known).
func (h *Handler) pictureRefused(w http.ResponseWriter, r *http.Request, status int, message string) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	h.renderAccount(w, r, status, sess, u, pictureError(message))
}

func (h *Handler) submitDeletePicture(w http.ResponseWriter, r *http.Request) {
	_, u, ok := h.form(w, r)
	if !ok {
		return
	}
	if _, err := h.removePicture(r.Context(), u.ID); err != nil {
		h.unavailablePage(w, r, err)
		return
	}
	h.saved(w, r, "picture_removed")
}

// servePicture serves a stored picture. Keys are random per upload, so
// an address never changes content: caches may keep it for good.
func (h *Handler) servePicture(w http.ResponseWriter, r *http.Request) {
	if h.Pictures == nil {
		http.NotFound(w, r)
		return
	}
	p, err := h.Pictures.Get(r.Context(), mux.Vars(r)["key"])
	switch {
	case errors.Is(err, pictures.ErrNotFound):
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "no such picture\n")
		return
	case err != nil:
		h.Logger.ErrorContext(r.Context(), "pictures: storage unavailable", "err", err)
		w.Header().Set("Retry-After", retryAfterSeconds)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", p.ContentType)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	hdr.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hdr.Set("Cross-Origin-Resource-Policy", "cross-origin")
	hdr.Set("Content-Length", fmt.Sprint(len(p.Data)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(p.Data)
}

func pictureError(message string) templates.AccountPage {
	return templates.AccountPage{Section: "picture", Field: "picture", Error: message}
}
