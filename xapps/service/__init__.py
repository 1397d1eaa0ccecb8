"""The DU xApp's service shell: settings, metrics, HTTP API and checkpoint store.

Import the submodules directly (`xapps.service.settings`, `.metrics`, `.http`, `.state`); this
package module imports nothing so that reading settings does not load FastAPI or torch.
"""

__all__: list[str] = []
