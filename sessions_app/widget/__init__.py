"""The chat widget: its page, its embed snippet, CORS for the origins a bot allows.

The JS and CSS stay under sessions_app/static/botportal/.
"""
