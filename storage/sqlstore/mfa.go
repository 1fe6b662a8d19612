package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tollgate/tollgate/storage"
)

type mfaRow struct {
	UserID       string  `gorm:"column:user_id;primaryKey"`
	SealedSecret []byte  `gorm:"column:sealed_secret"`
	Confirmed    bool    `gorm:"column:confirmed"`
	LastStep     int64   `gorm:"column:last_step"`
	CreatedAt    utcTime `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt    utcTime `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (mfaRow) TableName() string { return "mfa" }

type recoveryCodeRow struct {
	UserID    string   `gorm:"column:user_id;primaryKey"`
	CodeHash  string   `gorm:"column:code_hash;primaryKey"`
	UsedAt    nullTime `gorm:"column:used_at"`
	CreatedAt utcTime  `gorm:"column:created_at;autoCreateTime:false"`
}

func (recoveryCodeRow) TableName() string { return "recovery_codes" }

// SaveMFA creates or replaces the user's enrollment.
func (s *Store) SaveMFA(ctx context.Context, m storage.MFA) error {
	row := mfaRow{
		UserID: m.UserID, SealedSecret: m.SealedSecret, Confirmed: m.Confirmed, LastStep: m.LastStep,
		CreatedAt: utc(m.CreatedAt), UpdatedAt: utc(m.UpdatedAt),
	}
	err := s.guarded(ctx, func(db *gorm.DB) error {
		return db.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "user_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"sealed_secret", "confirmed", "last_step", "created_at", "updated_at"}),
		}).Create(&row).Error
	})
	return wrap(err, "save mfa of user %q", m.UserID)
}

// GetMFA loads the user's enrollment.
func (s *Store) GetMFA(ctx context.Context, userID string) (storage.MFA, error) {
	var row mfaRow
	if err := s.db(ctx).Where("user_id = ?", userID).Take(&row).Error; err != nil {
		return storage.MFA{}, wrap(err, "get mfa of user %q", userID)
	}
	return storage.MFA{
		UserID: row.UserID, SealedSecret: nonEmpty(row.SealedSecret), Confirmed: row.Confirmed,
		LastStep: row.LastStep, CreatedAt: row.CreatedAt.Time, UpdatedAt: row.UpdatedAt.Time,
	}, nil
}

// UseTOTPStep advances the last accepted step in one conditional statement,
// so that of two uses of one code only one matches.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	res := s.db(ctx).Model(&mfaRow{}).
		Where("user_id = ? AND confirmed AND last_step < ?", userID, step).
		Updates(map[string]any{"last_step": step, "updated_at": utc(time.Now())})
	if res.Error != nil {
		return wrap(res.Error, "use totp step of user %q", userID)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var n int64
	err := s.db(ctx).Model(&mfaRow{}).Where("user_id = ? AND confirmed", userID).Count(&n).Error
	switch {
	case err != nil:
		return wrap(err, "use totp step of user %q", userID)
	case n == 0:
		return wrap(storage.ErrNotFound, "use totp step of user %q", userID)
	}
	return wrap(storage.ErrInactive, "use totp step of user %q", userID)
}

// DeleteMFA removes the enrollment and the recovery codes.
func (s *Store) DeleteMFA(ctx context.Context, userID string) error {
	err := s.atomic(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ?", userID).Delete(&recoveryCodeRow{}).Error; err != nil {
			return err
		}
		return tx.Where("user_id = ?", userID).Delete(&mfaRow{}).Error
	})
	return wrap(err, "delete mfa of user %q", userID)
}

// ReplaceRecoveryCodes swaps the user's codes for new ones atomically.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string) error {
	now := utc(time.Now())
	err := s.atomic(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ?", userID).Delete(&recoveryCodeRow{}).Error; err != nil {
			return err
		}
		if len(hashes) == 0 {
			return nil
		}
		rows := make([]recoveryCodeRow, len(hashes))
		for i, h := range hashes {
			rows[i] = recoveryCodeRow{UserID: userID, CodeHash: h, CreatedAt: now}
		}
		return tx.Create(&rows).Error
	})
	return wrap(err, "replace recovery codes of user %q", userID)
}

// UseRecoveryCode marks an unused code used, in one conditional statement.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string) error {
	res := s.db(ctx).Model(&recoveryCodeRow{}).
		Where("user_id = ? AND code_hash = ? AND used_at IS NULL", userID, hash).
		Update("used_at", utc(time.Now()))
	return wrap(affected(res), "use recovery code of user %q", userID)
}

// CountRecoveryCodes counts the unused codes.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int64
	err := s.db(ctx).Model(&recoveryCodeRow{}).Where("user_id = ? AND used_at IS NULL", userID).Count(&n).Error
	return int(n), wrap(err, "count recovery codes of user %q", userID)
}
