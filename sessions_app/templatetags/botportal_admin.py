from django import template

from bots.models import Bot
from sessions_app.access.scoping import is_bot_owner, scope
from sessions_app.models import OwnerProfile
from sessions_app.selectors.admin import bot_activity_list

register = template.Library()

CHART_BAR_WIDTH = 8
CHART_BAR_GAP = 2
CHART_HEIGHT = 60


@register.simple_tag(takes_context=True)
def bot_dashboard(context):
    """Per bot the viewer may see: active sessions and a bar chart of conversations per day."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return None
    user = request.user
    bots = scope(Bot.objects.all(), user)
    if not user.is_superuser and is_bot_owner(user):
        # An owner who is also a reviewer still gets its own bots on its dashboard.
        bots = Bot.objects.filter(owner=user)
    activities = bot_activity_list(bots_queryset=bots)
    for activity in activities:
        peak = max(activity.peak, 1)
        activity.bars = [
            {
                "x": index * (CHART_BAR_WIDTH + CHART_BAR_GAP),
                "height": round(count / peak * CHART_HEIGHT, 1),
                "y": round(CHART_HEIGHT - count / peak * CHART_HEIGHT, 1),
                "day": day,
                "count": count,
            }
            for index, (day, count) in enumerate(activity.per_day)
        ]
    profile = OwnerProfile.objects.filter(owner=user).only("org_id").first() if is_bot_owner(user) else None
    return {
        "activities": activities,
        "org_id": profile.org_id if profile else None,
        "chart_width": len(activities[0].per_day) * (CHART_BAR_WIDTH + CHART_BAR_GAP) if activities else 0,
        "chart_height": CHART_HEIGHT,
        "bar_width": CHART_BAR_WIDTH,
    }
