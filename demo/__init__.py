"""`appliance demo`: a trading day on one simulated till reporting to a collector, from a
fresh machine. The one package that imports both the unit and the collector, so that
neither imports the other; it adds its command to `appliance` through the
`appliance.commands` entry point (`demo.cli`)."""
