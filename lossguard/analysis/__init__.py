"""What can be proven about a module: its index, which code is loss code, the facts of its
expressions, how reduced its values are, where gradients flow, what its models output."""
