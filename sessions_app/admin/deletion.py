"""Admin deletes that go through the deletion services (sessions_app.services.deletions).

Django's admin deletes with its collector: every related row fetched into Python, one `IN` list per
relation (past PostgreSQL's 65,535 parameters for a bot with many conversations) and all of it in
one transaction; its confirmation page runs the same collection just to list what would go. Here the
confirmation names the objects themselves and the delete marks them deleted at once, their rows
following in batches.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from sessions_app.services import deletions


class BatchedDeleteAdminMixin:
    """For a ModelAdmin whose objects may own many rows: `delete_service(obj)` deletes one of them."""

    delete_service = None  # a function of the object, from sessions_app.services.deletions

    def delete_model(self, request, obj):
        type(self).delete_service(obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset.iterator():
            # The site-wide bulk action reaches here without the admin's write scope: each object's own
            # delete permission decides, as Django's collector would have.
            if self.has_delete_permission(request, obj):
                type(self).delete_service(obj)

    def get_deleted_objects(self, objs, request):
        objs = list(objs)
        names = [str(obj) for obj in objs]
        opts = self.model._meta
        label = opts.verbose_name if len(objs) == 1 else opts.verbose_name_plural
        # What the delete removes with each object is the service's rule (see its docstring); only the
        # objects themselves need the user's delete permission, as the API's delete asks for no more.
        perms_needed = {opts.verbose_name for obj in objs if not self.has_delete_permission(request, obj)}
        return names, {label: len(objs)}, perms_needed, []


class OwnerDeleteUserAdmin(BatchedDeleteAdminMixin, UserAdmin):
    delete_service = staticmethod(lambda user: deletions.owner_delete(owner=user))

    def get_queryset(self, request):
        # A deleted owner is gone at once, while the purge removes their rows and finally the user.
        return super().get_queryset(request).exclude(botportal_profile__deleted_at__isnull=False)


User = get_user_model()
if admin.site.is_registered(User) and type(admin.site.get_model_admin(User)) is UserAdmin:
    admin.site.unregister(User)
    admin.site.register(User, OwnerDeleteUserAdmin)
