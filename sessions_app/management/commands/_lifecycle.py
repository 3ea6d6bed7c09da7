"""What the lifecycle commands share: each runs one lifecycle service once and prints its counts."""

from django.core.management.base import BaseCommand


class LifecycleCommand(BaseCommand):
    service = None  # a function from sessions_app.services.lifecycle

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would be affected; change and delete nothing."
        )
        parser.add_argument(
            "--batch-size", type=int, default=None, help="Rows per batch (default: BOTPORTAL_PRUNE_BATCH_SIZE)."
        )

    def handle(self, *args, dry_run=False, batch_size=None, **options):
        run = type(self).service(dry_run=dry_run, batch_size=batch_size)
        if not run.ran:
            self.stderr.write(self.style.WARNING(run.summary()))
            return
        self.stdout.write(run.summary())
