#include "adapters/aws/sns_xml.h"

#include <pugixml.hpp>

namespace memberflow::aws {

Result<std::string> parseSnsTopicArn(const std::string& body) {
  pugi::xml_document doc;
  if (!doc.load_string(body.c_str()))
    return Status::internal("sns CreateTopic: response is not XML");
  std::string arn =
      doc.child("CreateTopicResponse").child("CreateTopicResult").child_value("TopicArn");
  if (arn.empty()) return Status::internal("sns CreateTopic: no TopicArn");
  return arn;
}

bool snsPublishBatchFailed(const std::string& body) {
  pugi::xml_document doc;
  return doc.load_string(body.c_str()) && doc.child("PublishBatchResponse")
                                              .child("PublishBatchResult")
                                              .child("Failed")
                                              .child("member");
}

}  // namespace memberflow::aws
