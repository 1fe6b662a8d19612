package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tollgate/tollgate/storage"
)

// Token signatures are as good as the tokens for a lookup: they never appear
// in error messages, only the kind does.

const tokenColumns = `kind, signature, request_id, client_id, subject, jti, active, expires_at, data, created_at`

// CreateToken stores an artifact; ErrAlreadyExists if the kind and signature
// are taken.
func (s *Store) CreateToken(ctx context.Context, t storage.Token) error {
	// ON CONFLICT DO NOTHING instead of a savepoint (see guarded): a
	// duplicate inserts nothing and fails nothing, so a transaction can
	// carry on after ErrAlreadyExists, and the insert is one round trip
	// where a savepoint made it three. Tokens are inserted inside the token
	// endpoint's transaction on every exchange and refresh.
	row := tokenToRow(t)
	res := s.db(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	if res.Error != nil {
		return wrap(res.Error, "create %s", t.Kind)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("create %s: %w", t.Kind, storage.ErrAlreadyExists)
	}
	return nil
}

// CreateTokens stores several artifacts with one multi-row INSERT; as in
// CreateToken, a taken key inserts nothing for that row and fails nothing.
func (s *Store) CreateTokens(ctx context.Context, ts []storage.Token) error {
	if len(ts) == 0 {
		return nil
	}
	rows := make([]tokenRow, len(ts))
	for i, t := range ts {
		rows[i] = tokenToRow(t)
	}
	res := s.db(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows)
	if res.Error != nil {
		return wrap(res.Error, "create %d tokens", len(ts))
	}
	if res.RowsAffected < int64(len(ts)) {
		return fmt.Errorf("create %d tokens: %w", len(ts), storage.ErrAlreadyExists)
	}
	return nil
}

// ReplaceToken upserts an artifact on its primary key.
func (s *Store) ReplaceToken(ctx context.Context, t storage.Token) error {
	row := tokenToRow(t)
	err := s.db(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "kind"}, {Name: "signature"}},
		UpdateAll: true,
	}).Create(&row).Error
	return wrap(err, "replace %s", t.Kind)
}

// GetTokens loads the artifacts of keys that exist. The keys are joined as
// a VALUES list, so that each is one primary-key lookup: written as
// "(kind, signature) IN (…)", PostgreSQL may pick the (kind, subject) index
// and scan every row of a kind.
func (s *Store) GetTokens(ctx context.Context, keys []storage.TokenKey) ([]storage.Token, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	values, args := keyValues(keys)
	var rows []tokenRow
	err := s.db(ctx).Raw(`SELECT t.* FROM tokens t JOIN (`+values+`) AS k
		ON t.kind = k.column1 AND t.signature = k.column2`, args...).Find(&rows).Error
	if err != nil {
		return nil, wrap(err, "get %d tokens", len(keys))
	}
	return tokens(rows), nil
}

// DeleteTokens removes the artifacts of keys that exist.
func (s *Store) DeleteTokens(ctx context.Context, keys []storage.TokenKey) error {
	if len(keys) == 0 {
		return nil
	}
	values, args := keyValues(keys)
	err := s.db(ctx).Exec(`DELETE FROM tokens WHERE (kind, signature) IN (SELECT column1, column2 FROM (`+values+`) AS k)`, args...).Error
	return wrap(err, "delete %d tokens", len(keys))
}

// keyValues returns keys as a VALUES list (columns column1 and column2 in
// both PostgreSQL and SQLite) and its arguments.
func keyValues(keys []storage.TokenKey) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 2*len(keys))
	b.WriteString("VALUES ")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?)")
		args = append(args, string(k.Kind), k.Signature)
	}
	return b.String(), args
}

// GetToken loads an artifact, active or not.
func (s *Store) GetToken(ctx context.Context, kind storage.TokenKind, signature string) (storage.Token, error) {
	var row tokenRow
	err := s.db(ctx).Where("kind = ? AND signature = ?", string(kind), signature).Take(&row).Error
	if err != nil {
		return storage.Token{}, wrap(err, "get %s", kind)
	}
	return row.token(), nil
}

// DeactivateToken marks an active artifact used. It is one conditional
// UPDATE, so of concurrent redemptions exactly one changes the row: on
// PostgreSQL the others wait for its row lock and then re-check active, on
// SQLite writers are serialized. The losers get ErrInactive.
func (s *Store) DeactivateToken(ctx context.Context, kind storage.TokenKind, signature string) error {
	res := s.db(ctx).Model(&tokenRow{}).
		Where("kind = ? AND signature = ? AND active = ?", string(kind), signature, true).
		Update("active", false)
	if res.Error != nil {
		return wrap(res.Error, "deactivate %s", kind)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var n int64
	err := s.db(ctx).Model(&tokenRow{}).Where("kind = ? AND signature = ?", string(kind), signature).Count(&n).Error
	switch {
	case err != nil:
		return wrap(err, "deactivate %s", kind)
	case n == 0:
		return wrap(storage.ErrNotFound, "deactivate %s", kind)
	default:
		return wrap(storage.ErrInactive, "deactivate %s", kind)
	}
}

// DeleteToken removes an artifact; ErrNotFound if it is absent.
func (s *Store) DeleteToken(ctx context.Context, kind storage.TokenKind, signature string) error {
	res := s.db(ctx).Where("kind = ? AND signature = ?", string(kind), signature).Delete(&tokenRow{})
	return wrap(affected(res), "delete %s", kind)
}

// DeactivateGrant deactivates every artifact of the kind issued under the
// grant.
func (s *Store) DeactivateGrant(ctx context.Context, kind storage.TokenKind, requestID string) error {
	err := s.db(ctx).Model(&tokenRow{}).
		Where("kind = ? AND request_id = ? AND active = ?", string(kind), requestID, true).
		Update("active", false).Error
	return wrap(err, "deactivate %s of grant %q", kind, requestID)
}

// DeleteGrant deletes every artifact of the kind issued under the grant and
// returns them. DELETE … RETURNING makes what is returned exactly what was
// deleted.
func (s *Store) DeleteGrant(ctx context.Context, kind storage.TokenKind, requestID string) ([]storage.Token, error) {
	var rows []tokenRow
	err := s.db(ctx).Raw(`DELETE FROM tokens WHERE kind = ? AND request_id = ? RETURNING `+tokenColumns,
		string(kind), requestID).Find(&rows).Error
	if err != nil {
		return nil, wrap(err, "delete %s of grant %q", kind, requestID)
	}
	return tokens(rows), nil
}

// DeleteSubjectTokens deletes the artifacts of the kind issued to a subject
// and returns them.
func (s *Store) DeleteSubjectTokens(ctx context.Context, kind storage.TokenKind, subject string) ([]storage.Token, error) {
	var rows []tokenRow
	err := s.db(ctx).Raw(`DELETE FROM tokens WHERE kind = ? AND subject = ? RETURNING `+tokenColumns,
		string(kind), subject).Find(&rows).Error
	if err != nil {
		return nil, wrap(err, "delete %s of subject %q", kind, subject)
	}
	return tokens(rows), nil
}

// DeleteExpiredTokens deletes up to limit artifacts that expired before
// before, and returns how many it deleted. Callers loop until it returns
// less than limit, so no single statement holds locks for long.
func (s *Store) DeleteExpiredTokens(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, "tokens", "kind, signature", before, limit)
}

// deleteExpired removes up to limit rows of table whose expires_at is before
// t. Bounded batches keep each statement short, so a janitor on every
// replica never holds locks long; replicas deleting the same rows at once
// merely find them gone.
func (s *Store) deleteExpired(ctx context.Context, table, key string, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("delete expired %s: limit must be positive", table)
	}
	res := s.db(ctx).Exec(`DELETE FROM `+table+` WHERE (`+key+`) IN (
		SELECT `+key+` FROM `+table+` WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`,
		utc(before), limit)
	if res.Error != nil {
		return 0, wrap(res.Error, "delete expired %s", table)
	}
	return int(res.RowsAffected), nil
}

// RedeemTokens applies r all or nothing. On PostgreSQL it is one statement
// whose parts see one snapshot: the conditional UPDATE of r.Use (exactly one
// of concurrent redemptions changes the row, as in DeactivateToken), and a
// DELETE and an INSERT that run only if it did. A taken key fails the
// INSERT, and with it the statement. On SQLite it is the same three
// statements in a transaction.
func (s *Store) RedeemTokens(ctx context.Context, r storage.Redemption) error {
	if !s.postgres {
		return s.redeemInTx(ctx, r)
	}
	query, args := redemptionSQL(r)
	var counts struct{ Used, Existed, Made int }
	err := s.translate(s.db(ctx).Raw(query, args...).Find(&counts).Error)
	switch {
	case err != nil:
		return wrap(err, "redeem %d tokens", len(r.Create))
	case r.Use == nil:
	case counts.Used == 1:
	case counts.Existed == 0:
		return wrap(storage.ErrNotFound, "redeem %s", r.Use.Kind)
	default:
		return wrap(storage.ErrInactive, "redeem %s", r.Use.Kind)
	}
	return nil
}

// redemptionSQL builds RedeemTokens' statement for PostgreSQL. Every part
// reads the snapshot taken when the statement starts, so "existed" sees
// r.Use as it was before a concurrent redemption took it.
func redemptionSQL(r storage.Redemption) (string, []any) {
	var parts []string
	var args []any
	won := "true"
	used, existed := "SELECT 0", "SELECT 0"
	if r.Use != nil {
		parts = append(parts,
			`used AS (UPDATE tokens SET active = false WHERE kind = ? AND signature = ? AND active RETURNING 1)`,
			`existed AS (SELECT 1 FROM tokens WHERE kind = ? AND signature = ?)`)
		args = append(args, string(r.Use.Kind), r.Use.Signature, string(r.Use.Kind), r.Use.Signature)
		won = "EXISTS (SELECT 1 FROM used)"
		used, existed = "SELECT count(*) FROM used", "SELECT count(*) FROM existed"
	}
	if len(r.Delete) > 0 {
		values, vargs := keyValues(r.Delete)
		parts = append(parts, `gone AS (DELETE FROM tokens WHERE (kind, signature) IN (SELECT column1, column2 FROM (`+values+`) AS k) AND `+won+`)`)
		args = append(args, vargs...)
	}
	made := "SELECT 0"
	if len(r.Create) > 0 {
		var b strings.Builder
		for i, t := range r.Create {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::boolean, ?::timestamptz, ?::bytea, ?::timestamptz)")
			row := tokenToRow(t)
			args = append(args, row.Kind, row.Signature, row.RequestID, row.ClientID, row.Subject, row.JTI, row.Active, row.ExpiresAt, row.Data, row.CreatedAt)
		}
		parts = append(parts, `made AS (INSERT INTO tokens (`+tokenColumns+`) SELECT * FROM (VALUES `+b.String()+`) AS v WHERE `+won+` RETURNING 1)`)
		made = "SELECT count(*) FROM made"
	}
	query := fmt.Sprintf("SELECT (%s) AS used, (%s) AS existed, (%s) AS made", used, existed, made)
	if len(parts) > 0 {
		query = "WITH " + strings.Join(parts, ", ") + " " + query
	}
	return query, args
}

// redeemInTx is RedeemTokens as separate statements in a transaction.
func (s *Store) redeemInTx(ctx context.Context, r storage.Redemption) error {
	return s.atomic(ctx, func(tx *gorm.DB) error {
		ctx := context.WithValue(ctx, txKey{}, &lazyTx{tx: tx})
		if r.Use != nil {
			if err := s.DeactivateToken(ctx, r.Use.Kind, r.Use.Signature); err != nil {
				return err
			}
		}
		if err := s.DeleteTokens(ctx, r.Delete); err != nil {
			return err
		}
		return s.CreateTokens(ctx, r.Create)
	})
}
