"""One module per resource; ``connectors.gateway.main`` collects their routers."""
