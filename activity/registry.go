package activity

import (
	"context"
	"errors"

	"github.com/toscana/sirm/registry"
)

// RegistryFacilities is the registry seen from activity: the facility a
// facility operator's org names (its regional code or draft reference),
// its status, places and zone.
func RegistryFacilities(reg *registry.Service) Facilities { return registryFacilities{reg} }

type registryFacilities struct{ reg *registry.Service }

func (r registryFacilities) Facility(ctx context.Context, org string) (Facility, error) {
	ref, err := registry.ParseRef(org)
	if err != nil {
		return Facility{}, ErrNotFound
	}
	f, err := r.reg.Get(ctx, ref, registry.Visibility{All: true})
	if errors.Is(err, registry.ErrNotFound) {
		return Facility{}, ErrNotFound
	}
	if err != nil {
		return Facility{}, err
	}
	return Facility{ID: f.ID, Active: f.Status == registry.StatusActive, Places: f.Data.AuthorisedPlaces, Zone: f.Data.Zone}, nil
}

// RegistryZones reports whether a zone code is in the registry's list.
func RegistryZones(reg *registry.Service) func(string) bool {
	return func(code string) bool { _, ok := reg.Codes().Zone(code); return ok }
}
