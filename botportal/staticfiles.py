"""The production static files storage: WhiteNoise's compressed, hashed files, ES module imports included.

The widget page loads its script as ES modules (sessions_app/static/botportal/chat/). Django rewrites
`import ... from "./api.js"` to the hashed name only when asked to; without it a hashed module would
import an unhashed sibling, which a browser may keep from an older deployment.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
