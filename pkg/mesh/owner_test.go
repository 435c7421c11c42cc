package mesh

import "testing"

func TestResourceOwnerRoundTrip(t *testing.T) {
	o := NewResourceOwner("shared", "shop/web")
	got, ok := ParseResourceOwner(o.String())
	if !ok || got.LB != "shared" || !got.Serves("shop/web") || got.Serves("shop/api") {
		t.Errorf("ParseResourceOwner(%s) = %+v, %v", o, got, ok)
	}
	if o.String() != `{"managedBy":"meshctl","lb":"shared","services":["shop/web"]}` {
		t.Errorf("description %s: the format is what earlier runs wrote; it must not change", o)
	}
	for _, d := range []string{"", "made by hand", `{"managedBy":"terraform","lb":"x"}`} {
		if _, ok := ParseResourceOwner(d); ok {
			t.Errorf("ParseResourceOwner(%q) took it for meshctl's", d)
		}
	}
}

func TestOwnerLabels(t *testing.T) {
	l := OwnerLabels("shop", "web")
	if !OwnedBy(l, "shop", "web") || OwnedBy(l, "shop", "api") || !MadeByMeshctl(l) {
		t.Errorf("OwnerLabels %v", l)
	}
	if got := OwnerSelector("shop", "web"); got != "app.kubernetes.io/managed-by=meshctl,meshctl.io/service-name=web,meshctl.io/service-namespace=shop" {
		t.Errorf("OwnerSelector = %q", got)
	}
}
