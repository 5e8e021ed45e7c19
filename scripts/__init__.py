"""Developer scripts: set up, prepare and supervise the stack (stack.py), its local services
(services.py), and private stacks for the benchmarks and end-to-end tests (devstack.py)."""
