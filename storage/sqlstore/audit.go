package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/tollgate/tollgate/storage"
)

type auditRow struct {
	ID         string  `gorm:"column:id;primaryKey"`
	OccurredAt utcTime `gorm:"column:occurred_at"`
	Type       string  `gorm:"column:type"`
	Actor      string  `gorm:"column:actor"`
	UserID     string  `gorm:"column:user_id"`
	ClientID   string  `gorm:"column:client_id"`
	IP         string  `gorm:"column:ip"`
	UserAgent  string  `gorm:"column:user_agent"`
	RequestID  string  `gorm:"column:request_id"`
	Outcome    string  `gorm:"column:outcome"`
	Reason     string  `gorm:"column:reason"`
	Details    string  `gorm:"column:details"`
}

func (auditRow) TableName() string { return "audit_events" }

func auditToRow(e storage.AuditEvent) (auditRow, error) {
	details := "{}"
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return auditRow{}, fmt.Errorf("encode audit details: %w", err)
		}
		details = string(b)
	}
	return auditRow{
		ID: e.ID, OccurredAt: utc(e.Time), Type: e.Type, Actor: e.Actor,
		UserID: e.UserID, ClientID: e.ClientID, IP: e.IP, UserAgent: e.UserAgent,
		RequestID: e.RequestID, Outcome: e.Outcome, Reason: e.Reason, Details: details,
	}, nil
}

func (r auditRow) event() (storage.AuditEvent, error) {
	e := storage.AuditEvent{
		ID: r.ID, Time: r.OccurredAt.Time, Type: r.Type, Actor: r.Actor,
		UserID: r.UserID, ClientID: r.ClientID, IP: r.IP, UserAgent: r.UserAgent,
		RequestID: r.RequestID, Outcome: r.Outcome, Reason: r.Reason,
	}
	if err := json.Unmarshal([]byte(r.Details), &e.Details); err != nil {
		return e, fmt.Errorf("decode audit details of event %q: %w", r.ID, err)
	}
	if len(e.Details) == 0 {
		e.Details = nil
	}
	return e, nil
}

// AppendAuditEvents stores events in one COPY on PostgreSQL, else in one
// INSERT.
func (s *Store) AppendAuditEvents(ctx context.Context, events ...storage.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([]auditRow, len(events))
	for i, e := range events {
		if e.ID == "" {
			return errors.New("append audit events: an event has no ID")
		}
		r, err := auditToRow(e)
		if err != nil {
			return err
		}
		rows[i] = r
	}
	var err error
	if s.postgres && !inTx(ctx) {
		err = s.copyAuditRows(ctx, rows)
	} else {
		err = s.guarded(ctx, func(db *gorm.DB) error { return db.Create(&rows).Error })
	}
	return wrap(err, "append %d audit events", len(events))
}

// auditColumns are audit_events' columns in the order copyAuditRows sends.
var auditColumns = []string{"id", "occurred_at", "type", "actor", "user_id", "client_id",
	"ip", "user_agent", "request_id", "outcome", "reason", "details"}

// copyAuditRows writes rows with COPY, PostgreSQL's bulk load: no statement
// of 12 parameters per row to build, parse and plan, as an INSERT of a batch
// has. It needs the driver's own connection, so not inside a transaction
// (which has its connection already; the INSERT serves there).
func (s *Store) copyAuditRows(ctx context.Context, rows []auditRow) (err error) {
	// COPY goes around gorm, so around its tracing callbacks too.
	ctx, span := s.startSpan(ctx, "copy")
	defer func() { endSpan(span, "audit_events", err) }()
	db, err := s.gdb.DB()
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return s.translate(conn.Raw(func(driverConn any) error {
		pc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy audit events: driver connection is %T, not pgx", driverConn)
		}
		_, err := pc.Conn().CopyFrom(ctx, pgx.Identifier{"audit_events"}, auditColumns,
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
				r := rows[i]
				return []any{r.ID, r.OccurredAt.Time, r.Type, r.Actor, r.UserID, r.ClientID,
					r.IP, r.UserAgent, r.RequestID, r.Outcome, r.Reason, r.Details}, nil
			}))
		return err
	}))
}

// QueryAuditEvents pages through events newest first, by (time, ID), so a
// page is one index range scan however deep it is.
func (s *Store) QueryAuditEvents(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEvent, error) {
	if q.Limit <= 0 {
		return nil, errors.New("query audit events: limit must be positive")
	}
	db := s.db(ctx).Model(&auditRow{})
	if q.UserID != "" {
		db = db.Where("user_id = ?", q.UserID)
	}
	if q.ClientID != "" {
		db = db.Where("client_id = ?", q.ClientID)
	}
	if prefix, ok := strings.CutSuffix(q.Type, "*"); ok && strings.HasSuffix(prefix, ".") {
		// substr, not LIKE: an underscore in the prefix must not match
		// any character, and collations cannot reorder it.
		db = db.Where("substr(type, 1, ?) = ?", len(prefix), prefix)
	} else if q.Type != "" {
		db = db.Where("type = ?", q.Type)
	}
	if !q.Since.IsZero() {
		db = db.Where("occurred_at >= ?", utc(q.Since))
	}
	if !q.Until.IsZero() {
		db = db.Where("occurred_at < ?", utc(q.Until))
	}
	if q.After != nil {
		at := utc(q.After.Time)
		db = db.Where("(occurred_at < ? OR (occurred_at = ? AND id < ?))", at, at, q.After.ID)
	}
	var rows []auditRow
	if err := db.Order("occurred_at DESC, id DESC").Limit(q.Limit).Find(&rows).Error; err != nil {
		return nil, wrap(err, "query audit events")
	}
	out := make([]storage.AuditEvent, len(rows))
	for i, r := range rows {
		e, err := r.event()
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// DeleteAuditEventsBefore removes up to limit of the oldest events that
// happened before t.
func (s *Store) DeleteAuditEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, errors.New("delete old audit events: limit must be positive")
	}
	res := s.db(ctx).Exec(`DELETE FROM audit_events WHERE id IN (
		SELECT id FROM audit_events WHERE occurred_at < ? ORDER BY occurred_at LIMIT ?)`,
		utc(before), limit)
	if res.Error != nil {
		return 0, wrap(res.Error, "delete old audit events")
	}
	return int(res.RowsAffected), nil
}
