// Package storagetest is the contract of storage.Store as one table of
// sub-tests, which every backend runs from its own tests with a constructor
// for an empty store. A backend is done when the table passes.
package storagetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
)

type subtest struct {
	name string
	run  func(t *testing.T, s storage.Store)
}

var subtests = []subtest{
	{"ClientCRUD", testClientCRUD},
	{"ClientUpdate", testClientUpdate},
	{"UserCRUD", testUserCRUD},
	{"UserEmail", testUserEmail},
	{"UserUpdate", testUserUpdate},
	{"Session", testSession},
	{"SessionExpiry", testSessionExpiry},
	{"DeleteExpiredSessions", testDeleteExpiredSessions},
	{"UserPreferences", testUserPreferences},
	{"ListUserSessions", testListUserSessions},
	{"DeleteUserSessionsExcept", testDeleteUserSessionsExcept},
	{"DeleteSubjectTokensExcept", testDeleteSubjectTokensExcept},
	{"Consent", testConsent},
	{"KeyCRUD", testKeyCRUD},
	{"KeyUpdate", testKeyUpdate},
	{"TokenCRUD", testTokenCRUD},
	{"TokenBatches", testTokenBatches},
	{"TokenDeactivate", testTokenDeactivate},
	{"TokenConcurrentRedemption", testTokenConcurrentRedemption},
	{"TokenConcurrentRedemptionInTx", testTokenConcurrentRedemptionInTx},
	{"TokenRedeem", testTokenRedeem},
	{"TokenRedeemInTx", testTokenRedeemInTx},
	{"TokenConcurrentRedeem", testTokenConcurrentRedeem},
	{"DeactivateGrant", testDeactivateGrant},
	{"DeleteGrant", testDeleteGrant},
	{"DeleteSubjectTokens", testDeleteSubjectTokens},
	{"DeleteExpiredTokens", testDeleteExpiredTokens},
	{"Revocation", testRevocation},
	{"RevocationExpired", testRevocationExpired},
	{"ListRevocations", testListRevocations},
	{"DeleteExpiredRevocations", testDeleteExpiredRevocations},
	{"Throttle", testThrottle},
	{"ThrottleMany", testThrottleMany},
	{"ThrottleForgets", testThrottleForgets},
	{"MFA", testMFA},
	{"MFAStepReplay", testMFAStepReplay},
	{"RecoveryCodes", testRecoveryCodes},
	{"Identity", testIdentity},
	{"AuditAppendQuery", testAuditAppendQuery},
	{"AuditPages", testAuditPages},
	{"DeleteOldAuditEvents", testDeleteOldAuditEvents},
	{"UserActivity", testUserActivity},
	{"TxCommit", testTxCommit},
	{"TxRollback", testTxRollback},
	{"TxUpdate", testTxUpdate},
	{"TxSurvivesFailedCreate", testTxSurvivesFailedCreate},
	{"TxRedemptionRollback", testTxRedemptionRollback},
	{"TxWithoutTransaction", testTxWithoutTransaction},
	{"Ping", testPing},
	{"RegistrationToken", testRegistrationToken},
	{"UserRoles", testUserRoles},
	{"SearchUsersFilters", testSearchUsersFilters},
	{"SearchUsersEscaping", testSearchUsersEscaping},
	{"SearchUsersPages", testSearchUsersPages},
	{"SearchUsersUnicode", testSearchUsersUnicode},
}

// Run runs the contract against stores from newStore, a fresh empty store
// for each sub-test.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			st.run(t, newStore(t))
		})
	}
}

// now is the current time at millisecond precision, which every backend
// must keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

var seq atomic.Int64

// unique returns a name that no other sub-test uses, so that backends which
// share state (a Redis database) do not collide.
func unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), seq.Add(1))
}

func mustNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

func mustIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// equal compares after normalizing what backends may legitimately differ
// in: the location of times and nil versus empty slices.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	g, w := normalize(reflect.ValueOf(&got).Elem()), normalize(reflect.ValueOf(&want).Elem())
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

var timeType = reflect.TypeOf(time.Time{})

func normalize(v reflect.Value) any {
	out := reflect.New(v.Type()).Elem()
	out.Set(v)
	normalizeValue(out)
	return out.Interface()
}

func normalizeValue(v reflect.Value) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			normalizeValue(v.Field(i))
		}
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := range c.Len() {
			normalizeValue(c.Index(i))
		}
		v.Set(c)
	case v.Kind() == reflect.Map:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			normalizeValue(e)
			c.SetMapIndex(it.Key(), e)
		}
		v.Set(c)
	}
}
