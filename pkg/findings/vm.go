package findings

// VMs of the mesh (`meshctl validate`, `meshctl vm`): MC050x.
var (
	VMGroupWithoutEntries = define("MC0500", Warning, "WorkloadGroup without WorkloadEntries: no VM of the group is connected")
	VMEntryUnhealthy      = define("MC0501", Error, "WorkloadEntry of a VM reported unhealthy by its readiness probe")
	VMTokenExpiry         = define("MC0502", Warning, "A VM bundle's token meshctl issued expires soon or expired")
)
