package oauth

import (
	"errors"
	"testing"
	"time"

	"github.com/ory/fosite/token/jwt"
)

func TestCheckTimes(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := clock{now: func() time.Time { return now }, leeway: time.Minute}
	at := func(d time.Duration) float64 { return float64(now.Add(d).Unix()) }
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		want   uint32
	}{
		{"fresh", jwt.MapClaims{"iat": at(0), "exp": at(time.Hour)}, 0},
		{"issued by a replica 30 s ahead", jwt.MapClaims{"iat": at(30 * time.Second), "exp": at(time.Hour)}, 0},
		{"issued at the edge of the leeway", jwt.MapClaims{"iat": at(time.Minute), "exp": at(time.Hour)}, 0},
		{"issued beyond the leeway", jwt.MapClaims{"iat": at(61 * time.Second), "exp": at(time.Hour)}, jwt.ValidationErrorIssuedAt},
		{"not valid for two minutes", jwt.MapClaims{"nbf": at(2 * time.Minute)}, jwt.ValidationErrorNotValidYet},
		{"expires this second", jwt.MapClaims{"exp": at(0)}, 0},
		{"expired a second ago: no leeway", jwt.MapClaims{"exp": at(-time.Second)}, jwt.ValidationErrorExpired},
		{"no time claims", jwt.MapClaims{}, 0},
		{"int64 claims", jwt.MapClaims{"exp": now.Add(-time.Second).Unix()}, jwt.ValidationErrorExpired},
	} {
		err := c.checkTimes(tc.claims)
		var ve *jwt.ValidationError
		switch {
		case tc.want == 0 && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != 0 && (!errors.As(err, &ve) || ve.Errors != tc.want):
			t.Errorf("%s: %v, want validation error %b", tc.name, err, tc.want)
		}
	}
}
