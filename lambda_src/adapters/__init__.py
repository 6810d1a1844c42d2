"""Each cloud's implementations of the domain's ports (users.ports), one package per cloud."""
