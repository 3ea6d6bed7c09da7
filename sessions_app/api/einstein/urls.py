app_name = "einstein"

urlpatterns = []
