package netpol

import "github.com/ovnet/ovnet/pkg/ovnname"

// Direction is a policy direction, from the selected pod's point of view;
// the names of the rows made for each direction depend on it.
type Direction = ovnname.Direction

// The two directions.
const (
	Ingress = ovnname.Ingress
	Egress  = ovnname.Egress
)
