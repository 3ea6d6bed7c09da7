app_name = "chatbotkit"

urlpatterns = []
