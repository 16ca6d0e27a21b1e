"""SHA-256d mining of real block templates on the packet fabric."""
