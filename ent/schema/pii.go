package schema

import (
	"context"
	"database/sql"

	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema/field"

	gen "github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/hook"
	"github.com/scrm-dev/scrm/internal/pii"
)

// Personal data (phone, address, ID number, email, birthday) is encrypted
// at rest: the column holds pii's envelope (AES-256-GCM or SM4-GCM, with
// the key id, so keys rotate), the entity holds the plaintext. Validators
// see the plaintext; the database, its dumps and its backups never do.
// Such columns cannot be filtered or sorted on in SQL; an exact phone
// lookup goes through the keyed blind index (phone_index).
var sealed = field.ValueScannerFunc[string, *sql.NullString]{V: pii.ColumnValue, S: pii.ScanColumn}

// sealedColumn and sealedText size the envelope (about 4/3 of the
// plaintext plus 50 bytes) on MySQL.
var (
	sealedColumn = map[string]string{dialect.MySQL: "varchar(512)"}
	sealedText   = map[string]string{dialect.MySQL: "text"}
)

// indexPhone keeps Customer.phone_index, the keyed blind index of the
// normalised phone, in step with the phone.
func indexPhone() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.CustomerFunc(func(ctx context.Context, m *gen.CustomerMutation) (gen.Value, error) {
			if phone, set := m.Phone(); set {
				if phone == "" {
					m.ClearPhoneIndex()
				} else {
					kr, err := pii.Current()
					if err != nil {
						return nil, err
					}
					m.SetPhoneIndex(kr.PhoneIndex(phone))
				}
			} else if m.PhoneCleared() {
				m.ClearPhoneIndex()
			}
			return next.Mutate(ctx, m)
		})
	}, opWrite)
}

// blindPhoneIdentities stores a PHONE identity's external id as the
// phone's blind index, never the number itself: identities are matched,
// not read.
func blindPhoneIdentities() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.CustomerIdentityFunc(func(ctx context.Context, m *gen.CustomerIdentityMutation) (gen.Value, error) {
			platform, _ := m.Platform()
			ext, set := m.ExternalID()
			if platform == customeridentity.PlatformPhone && set {
				kr, err := pii.Current()
				if err != nil {
					return nil, err
				}
				if idx := kr.PhoneIndex(ext); idx != "" {
					m.SetExternalID(PhoneIdentityPrefix + idx)
				}
			}
			return next.Mutate(ctx, m)
		})
	}, ent.OpCreate)
}

// PhoneIdentityPrefix marks an external id that is a phone's blind index.
const PhoneIdentityPrefix = "pi:"
